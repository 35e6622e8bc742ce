import Foundation
import Testing
import Kernels
import Datasets
@testable import GPUEngine

/// The slot pool with interpreted activations (evolution's expressions): each entering candidate's tapes
/// are written into its slot's regions, no program is built after the interpreter's, and every candidate
/// gets the bits the interpreted trainer gives it alone, whatever its slot, entry step or neighbours.
@Suite(.serialized) struct PopulationPoolInterpreterTests {
    /// Expressions no menu has (so only the interpreter runs them without a build), noise (RReLU), a
    /// layer-wise slot (softmax), and one that diverges at once.
    static let expressions: [ActivationExpr] = [
        try! ActivationExpr.parse("x * sigmoid(x) + 0.1 * sin(x)"), .unary(.tanh, .x), .unary(.rrelu, .x),
        try! ActivationExpr.parse("max(x, 0.2 * x) - 0.05 * cos(x)"), .layerwise(.softmax),
        try! ActivationExpr.parse("exp(exp(exp(exp(x+4))))"),
    ]

    /// 11 candidates of 3 slots; candidate 4 diverges.
    static func candidates() -> [Candidate] {
        (0..<11).map { i in
            if i == 4 { return Candidate(activations: [.unary(.tanh, .x), expressions[5], .unary(.tanh, .x)]) }
            return Candidate(activations: (0..<3).map { k in expressions[(i * 3 + k * (i / 2 + 1)) % 5] })
        }
    }

    static func trainer(pass: RowPass) -> PopulationTrainer {
        let t = PopulationTrainer(device: TrainerFixture.device)
        t.activationExecution = .interpreted
        PopulationPoolTests.launch(pass, on: t)
        return t
    }

    /// Full batch and mini-batches of 16 of 40 rows; per-layer interpreter launches on 16/12-wide layers, the
    /// fused pass (tapes walked inside `mlp_train_candidate`) on 64-wide ones.
    @Test(arguments: [(nil, RowPass.layers), (16, .layers), (nil, .candidates), (16, .candidates)] as [(Int?, RowPass)])
    func interpretedCandidatesGetTheirAloneBitsWhateverTheirSlotAndEntry(batch: Int?, pass: RowPass) throws {
        let spec = try MLPSpec(widths: pass == .layers ? [6, 16, 12, 3] : [6, 64, 64, 3], lastLayerActivation: true)
        let train = TrainerFixture.data(rows: 40, seed: 81), val = TrainerFixture.data(rows: 17, seed: 82)
        let config = TrainingConfig(epochs: 8, learningRate: 0.02, optimizer: .adam(), batchSize: batch, seed: 6,
                                    earlyStopping: EarlyStopping(patience: 2, minImprovement: 0.02))
        let trainer = Self.trainer(pass: pass)
        let all = Self.candidates()
        let pool = try PopulationPool(trainer: trainer, spec: spec, config: config, train: train, validation: val, slots: 3)
        #expect(pool.execution == .interpreted)
        pool.keepWeights = true
        var queue = all.indices[...]
        var results: [Int: PooledResult] = [:]
        let stats = try pool.run(next: { queue.popFirst().map { PoolEntry(tag: $0, candidate: all[$0]) } },
                                 finished: { results[$0.tag] = $0 })
        #expect(results.count == all.count && stats.slotEpochs == stats.candidateEpochs)
        #expect(pass == .layers ? stats.fusedSteps == 0 : stats.fusedSteps == stats.steps)
        #expect(results[4]!.diverged && results[4]!.history.count < 3, "the diverging candidate frees its slot at once")
        #expect(Set(results.values.map { $0.history.count }).count > 2, "candidates leave at different epochs")
        for (tag, c) in all.enumerated() {
            var alone = c
            alone.seed = Candidate.derivedSeed(runSeed: config.seed, index: tag)
            let run = try trainer.train(candidates: [alone], spec: spec, config: config, train: train, validation: val)
            #expect(run.activationExecution == .interpreted)
            let r = run.candidates[0], p = results[tag]!
            #expect(PopulationPoolTests.sameBits(p.history, r.history), "\(pass) batch \(batch ?? 0): candidate \(tag) history")
            #expect(p.diverged == r.diverged && p.stoppedEarly == r.stoppedEarly, "candidate \(tag): stop reason")
            if !r.diverged { #expect(p.weights == r.weights, "\(pass) batch \(batch ?? 0): candidate \(tag) weights") }
        }
    }

    /// `trainPooled` (evolution's fitness batches): a generation narrower slots than candidates gives every
    /// candidate the bits `train` gives the whole generation, interpreted where the interpreter runs every
    /// expression and compiled (the program `train` builds) where one has learnable parameters.
    @Test func generationsThroughThePoolKeepTheirChunkResults() throws {
        let spec = try MLPSpec(widths: [6, 16, 12, 3], lastLayerActivation: true)
        let train = TrainerFixture.data(rows: 40, seed: 91), val = TrainerFixture.data(rows: 17, seed: 92)
        let config = TrainingConfig(epochs: 4, learningRate: 0.02, optimizer: .adam(), batchSize: 16, seed: 5)
        let trainer = Self.trainer(pass: .layers)
        for generation in [Self.candidates(), Self.candidates().prefix(5) + [Candidate(activations: [TrainerFixture.prelu, .unary(.tanh, .x), .x])]] {
            let population = generation.map { c in Candidate(activations: c.activations, seed: config.seed) }
            let chunked = try trainer.train(candidates: population, spec: spec, config: config, train: train, validation: val)
            let (pooled, stats) = try trainer.trainPooled(candidates: population, spec: spec, config: config, train: train,
                                                          validation: val, slots: 4, keepWeights: true)
            #expect(stats.slots == 4 && stats.candidatesTrained == population.count)
            #expect(chunked.activationExecution == (population.count == 11 ? .interpreted : .compiled))
            for (i, (p, r)) in zip(pooled, chunked.candidates).enumerated() {
                #expect(p.tag == i && PopulationPoolTests.sameBits(p.history, r.history), "candidate \(i) history")
                #expect(p.diverged == r.diverged, "candidate \(i)")
                if !r.diverged { #expect(p.weights == r.weights, "candidate \(i) weights") }
            }
        }
    }

    @Test func refusesWhatTheInterpreterCannotRun() throws {
        let spec = try MLPSpec(widths: [6, 16, 12, 3], lastLayerActivation: true)
        let pool = try PopulationPool(trainer: Self.trainer(pass: .layers), spec: spec,
                                      config: TrainingConfig(epochs: 2, learningRate: 0.01),
                                      train: TrainerFixture.data(rows: 32, seed: 41), slots: 2)
        let learnable = Candidate(activations: [TrainerFixture.prelu, .unary(.tanh, .x), .unary(.tanh, .x)])
        var sent = false
        do {
            try pool.run(next: { defer { sent = true }; return sent ? nil : PoolEntry(tag: 7, candidate: learnable) },
                         finished: { _ in })
            Issue.record("a learnable expression entered an interpreted pool")
        } catch let error as TrainerError {
            #expect("\(error)".contains("interpreter cannot run"), "\(error)")
        }
    }
}
