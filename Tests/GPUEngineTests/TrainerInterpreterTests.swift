import Foundation
import Testing
import Kernels
import Datasets
@testable import GPUEngine

/// The interpreted activation path (`ActivationExecution.interpreted`): the same training as the fused,
/// compiled path and the Double reference, from one program that does not depend on the population.
@Suite(.serialized) struct TrainerInterpreterTests {
    /// Its own program cache (memory; the shared disk folder), so its counters see only this suite.
    static let cache = ProgramCache(directory: ProgramCache.defaultDirectory())
    static let trainer: PopulationTrainer = {
        let t = PopulationTrainer(device: TrainerFixture.device, cache: cache)
        t.activationExecution = .interpreted
        return t
    }()

    static func parse(_ s: String) -> ActivationExpr { try! ActivationExpr.parse(s) }

    /// Shared subtrees, constants, ties of max/min, division, kinks and saturating functions.
    static let expressions = [
        "x * sigmoid(1.5 * x)", "max(x, 0.3 * sin(x))", "x / (1 + abs(x))", "gelu(x) - 0.1 * x", "elu(x) * tanh(x) + elu(x)",
        "mish(x)", "min(relu6(x), hardswish(x))", "softsign(x) * 0.2 + softplus(x - 1)", "selu(x) - cos(x * x)",
        "exp(-(x * x)) * 2 - 1", "atan(3 * x) + logsigmoid(x)", "square(tanh(x)) + hardtanh(x)",
        // f' = sign(x) / (|x| + 1e-7): too ill-conditioned for float against Double, fine against the compiled path.
        "log_safe(x) * 0.2 + softplus(x - 1)",
    ].map(parse)

    @Test func populationMatchesTheReferenceFor20AdamSteps() throws {
        let spec = try MLPSpec(widths: [6, 16, 12, 3], lastLayerActivation: true)
        let data = TrainerFixture.data(rows: 64, seed: 1)
        let config = TrainingConfig(epochs: 20, learningRate: 0.01, optimizer: .adam(), seed: 11, evaluateEveryEpoch: false)
        let e = Self.expressions
        let cand = [Candidate(activations: [e[0], e[1], e[2]]), Candidate(activations: [e[3], e[4], .layerwise(.logSoftmax)]),
                    Candidate(activations: [e[5], .x, e[6]]), Candidate(activations: [e[7], e[8], e[9]])]
        let gpu = try Self.trainer.train(candidates: cand, spec: spec, config: config, train: data)
        #expect(gpu.activationExecution == .interpreted)
        let ref = try ReferenceTrainer().train(candidates: cand, spec: spec, config: config, train: data)
        for (i, (g, r)) in zip(gpu.candidates, ref.candidates).enumerated() {
            #expect(g.history.count == 20)
            for (ge, re) in zip(g.history, r.history) {
                #expect(abs(ge.train.loss - re.train.loss) < 1e-4, "candidate \(i) epoch \(ge.epoch)")
            }
            for (gl, rl) in zip(g.weights.layers, r.weights.layers) {
                #expect(zip(gl.weight, rl.weight).allSatisfy { abs($0 - $1) < 1e-4 }, "candidate \(i)")
                #expect(zip(gl.bias, rl.bias).allSatisfy { abs($0 - $1) < 1e-4 }, "candidate \(i)")
            }
        }
    }

    @Test func miniBatchesWithEvaluationAndRReLUMatchTheCompiledTrainer() throws {
        let spec = try MLPSpec(widths: [6, 12, 10, 3], lastLayerActivation: false)
        let data = TrainerFixture.data(rows: 70, seed: 4), val = TrainerFixture.data(rows: 30, seed: 6)
        let config = TrainingConfig(epochs: 3, learningRate: 0.01, batchSize: 16, seed: 3)
        let e = Self.expressions
        let rrelu = Self.parse("rrelu(x) + 0.5 * rrelu(x * x)")
        let cand = [Candidate(activations: [e[10], rrelu]), Candidate(activations: [e[11], e[12]]),
                    Candidate(activations: [.layerwise(.softmax), e[1]]), Candidate(activations: [rrelu, .x])]
        let interpreted = try Self.trainer.train(candidates: cand, spec: spec, config: config, train: data, validation: val)
        let compiled = try TrainerFixture.trainer.train(candidates: cand, spec: spec, config: config, train: data, validation: val)
        #expect(interpreted.activationExecution == .interpreted && compiled.activationExecution == .compiled)
        for (i, (a, b)) in zip(interpreted.candidates, compiled.candidates).enumerated() {
            for (ae, be) in zip(a.history, b.history) {
                #expect(abs(ae.train.loss - be.train.loss) < 1e-5, "candidate \(i) epoch \(ae.epoch)")
                #expect(abs(ae.validation!.loss - be.validation!.loss) < 1e-5, "candidate \(i) epoch \(ae.epoch)")
            }
            for (al, bl) in zip(a.weights.layers, b.weights.layers) {
                #expect(zip(al.weight, bl.weight).allSatisfy { abs($0 - $1) < 1e-5 }, "candidate \(i)")
            }
        }
    }

    @Test func theProgramDoesNotDependOnThePopulation() throws {
        let tile = TileShape.choose(for: TrainerFixture.device.peakHint, widths: [6, 16, 3])
        let source = { (acts: [[ActivationExpr]]) in
            try PopulationProgram(candidates: acts.map { Candidate(activations: $0) }, tile: tile,
                                  activationSource: { try ActivationCodegen.checkedSource(for: $0) }, execution: .interpreted)
        }
        let a = try source([[Self.expressions[0], .unary(.relu, .x)]])
        let b = try source([[Self.expressions[3], Self.expressions[4]], [.layerwise(.softmax), Self.expressions[5]]])
        #expect(a.execution == .interpreted && b.execution == .interpreted)
        #expect(a.source == b.source)
        #expect(b.activationIDs == [[-1, -1], [-2, -1]], "the GEMMs see the identity for interpreted slots")
        #expect(b.tapeOffsets[1][0] == -1 && b.tapeOffsets[0].allSatisfy { $0 >= 0 })
    }

    @Test func newExpressionsAndPopulationSizesNeedNoNewProgram() throws {
        let spec = try MLPSpec(widths: [6, 16, 12, 3], lastLayerActivation: false)
        let data = TrainerFixture.data(rows: 32, seed: 2)
        let config = TrainingConfig(epochs: 1, learningRate: 0.01, seed: 5)
        let e = Self.expressions
        _ = try Self.trainer.train(candidates: [Candidate(activations: [e[0], e[1]])], spec: spec, config: config, train: data)
        let before = Self.cache.counters
        let generations = [[Candidate(activations: [e[2], e[3]]), Candidate(activations: [e[4], e[5]]), Candidate(activations: [e[6], .x])],
                           [Candidate(activations: [e[7], e[8]]), Candidate(activations: [e[9], e[10]])]]
        for population in generations {
            let r = try Self.trainer.train(candidates: population, spec: spec, config: config, train: data)
            #expect(r.activationExecution == .interpreted)
        }
        let after = Self.cache.counters
        #expect(after.builds == before.builds && after.diskHits == before.diskHits, "no build and no disk load")
        #expect(after.memoryHits == before.memoryHits + generations.count)
    }

    @Test func learnableParametersFallBackToTheCompiledTrainer() throws {
        let spec = try MLPSpec(widths: [6, 16, 12, 3], lastLayerActivation: false)
        let data = TrainerFixture.data(rows: 32, seed: 2)
        let config = TrainingConfig(epochs: 2, learningRate: 0.01, seed: 5)
        let cand = [Candidate(activations: [.unary(.tanh, .x), TrainerFixture.prelu])]
        let r = try Self.trainer.train(candidates: cand, spec: spec, config: config, train: data)
        let c = try TrainerFixture.trainer.train(candidates: cand, spec: spec, config: config, train: data)
        #expect(r.activationExecution == .compiled)
        #expect(TrainerTests.sameResult(r.candidates[0], c.candidates[0]))
    }
}
