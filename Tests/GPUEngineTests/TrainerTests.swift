import Foundation
import Testing
import Kernels
import Datasets
@testable import GPUEngine

@Suite(.serialized) struct TrainerTests {
    let trainer = TrainerFixture.trainer

    @Test func populationOfOneMatchesReferenceFor20AdamSteps() throws {
        let spec = try MLPSpec(widths: [6, 16, 12, 3], lastLayerActivation: false)
        let data = TrainerFixture.data(rows: 64, seed: 1)
        let config = TrainingConfig(epochs: 20, learningRate: 0.01, optimizer: .adam(), seed: 11, evaluateEveryEpoch: false)
        let cand = [Candidate(activations: [.unary(.tanh, .x), TrainerFixture.prelu])]
        let gpu = try trainer.train(candidates: cand, spec: spec, config: config, train: data).candidates[0]
        let ref = try ReferenceTrainer().train(candidates: cand, spec: spec, config: config, train: data).candidates[0]
        #expect(gpu.history.count == 20)
        for (g, r) in zip(gpu.history, ref.history) {
            #expect(abs(g.train.loss - r.train.loss) < 1e-4, "epoch \(g.epoch) loss")
            #expect(g.train.accuracy == r.train.accuracy)
        }
        for (gl, rl) in zip(gpu.weights.layers, ref.weights.layers) {
            #expect(zip(gl.weight, rl.weight).allSatisfy { abs($0 - $1) < 1e-4 })
            #expect(zip(gl.bias, rl.bias).allSatisfy { abs($0 - $1) < 1e-4 })
        }
        #expect(abs(gpu.activationParameters[1][0] - ref.activationParameters[1][0]) < 1e-4)
        #expect(gpu.activationParameters[1][0] != 0.25, "PReLU's slope is trained")
    }
}

extension TrainerTests {
    static let spec = try! MLPSpec(widths: [6, 16, 12, 3], lastLayerActivation: false)
    static let mixed: [Candidate] = [
        Candidate(activations: [.unary(.tanh, .x), TrainerFixture.prelu]),
        Candidate(activations: [.unary(.relu, .x), .unary(.sigmoid, .x)]),
        Candidate(activations: [.unary(.softplus, .x), .layerwise(.softmax)]),
        Candidate(activations: [.x, .unary(.relu, .x)]),
    ]

    static func sameResult(_ a: CandidateResult, _ b: CandidateResult) -> Bool {
        a.history == b.history && a.weights == b.weights && a.activationParameters == b.activationParameters
            && a.diverged == b.diverged && a.finalTrain == b.finalTrain && a.finalValidation == b.finalValidation
    }

    @Test func mixedPopulationGivesEachCandidateItsResultAlone() throws {
        let data = TrainerFixture.data(rows: 64, seed: 2), val = TrainerFixture.data(rows: 24, seed: 3)
        let config = TrainingConfig(epochs: 4, learningRate: 0.01, batchSize: 16, seed: 5)
        let together = try trainer.train(candidates: Self.mixed, spec: Self.spec, config: config, train: data, validation: val)
        for (i, c) in Self.mixed.enumerated() {
            var alone = c
            alone.seed = Candidate.derivedSeed(runSeed: config.seed, index: i)
            let r = try trainer.train(candidates: [alone], spec: Self.spec, config: config, train: data, validation: val)
            #expect(Self.sameResult(r.candidates[0], together.candidates[i]), "candidate \(i)")
        }
        #expect(together.candidates[0].history.count == 4)
        #expect(together.candidates[0].history[3].validation != nil)
        // Different activations really train differently.
        #expect(together.candidates[0].weights != together.candidates[1].weights)
    }

    /// A neighbour with RReLU makes the program draw noise (keys per element); the others' results must not
    /// change with it: their activations take the same path as in a program without noise.
    @Test func aNoisyNeighbourLeavesEachCandidateItsResultAlone() throws {
        let data = TrainerFixture.data(rows: 64, seed: 2)
        let config = TrainingConfig(epochs: 3, learningRate: 0.01, batchSize: 16, seed: 5, evaluateEveryEpoch: false)
        let quiet = [Candidate(activations: [.unary(.tanh, .x), .unary(.gelu, .x)]),
                     Candidate(activations: [.unary(.softplus, .x), .unary(.sigmoid, .x)])]
        let noisy = Candidate(activations: [.unary(.rrelu, .x), .unary(.mish, .x)])
        let together = try trainer.train(candidates: quiet + [noisy], spec: Self.spec, config: config, train: data)
        let without = try trainer.train(candidates: quiet, spec: Self.spec, config: config, train: data)
        for i in quiet.indices { #expect(Self.sameResult(together.candidates[i], without.candidates[i]), "candidate \(i)") }
    }

    @Test func chunkedAndUnchunkedPopulationsAreIdentical() throws {
        let data = TrainerFixture.data(rows: 64, seed: 2)
        let config = TrainingConfig(epochs: 3, learningRate: 0.01, seed: 8)
        let whole = try trainer.train(candidates: Self.mixed, spec: Self.spec, config: config, train: data)
        let small = PopulationTrainer(device: TrainerFixture.device)
        small.maxChunkSize = 3
        let chunked = try small.train(candidates: Self.mixed, spec: Self.spec, config: config, train: data)
        #expect(whole.chunks == 1 && chunked.chunks == 2)
        for i in Self.mixed.indices { #expect(Self.sameResult(whole.candidates[i], chunked.candidates[i]), "candidate \(i)") }
        // A memory budget below one candidate is a clear error.
        small.memoryBudgetBytes = 1000
        #expect(throws: TrainerError.self) { try small.train(candidates: Self.mixed, spec: Self.spec, config: config, train: data) }
    }

    @Test func divergingCandidateIsFrozenAndOthersAreBitIdentical() throws {
        let data = TrainerFixture.data(rows: 64, seed: 2)
        let config = TrainingConfig(epochs: 5, learningRate: 0.01, batchSize: 32, seed: 5)
        let expexp: ActivationExpr = .unary(.exp, .unary(.exp, .x))
        let others = Self.mixed.enumerated().map { i, c in
            var c = c
            c.seed = UInt64(100 + i)
            return c
        }
        let with = try trainer.train(candidates: [others[0], Candidate(activations: [expexp, expexp], seed: 7)] + others.dropFirst(),
                                     spec: Self.spec, config: config, train: data)
        let without = try trainer.train(candidates: others, spec: Self.spec, config: config, train: data)
        let bad = with.candidates[1]
        #expect(bad.diverged)
        #expect(bad.history.count < 5)
        #expect(!(bad.history.last!.train.loss.isFinite))
        #expect(bad.weights.layers.allSatisfy { $0.weight.allSatisfy(\.isFinite) }, "frozen before the non-finite step")
        let kept = [with.candidates[0]] + with.candidates.dropFirst(2)
        for (a, b) in zip(kept, without.candidates) {
            #expect(!a.diverged)
            #expect(Self.sameResult(a, b))
        }
        // The reference freezes it at the same epoch.
        let ref = try ReferenceTrainer().train(candidates: [Candidate(activations: [expexp, expexp], seed: 7)], spec: Self.spec,
                                               config: config, train: data).candidates[0]
        #expect(ref.diverged && ref.history.count == bad.history.count)
    }

    @Test func miniBatchSGDWithLayerwiseAndGumbelMatchesReference() throws {
        let spec = try MLPSpec(widths: [6, 12, 10, 3], lastLayerActivation: true)
        let data = TrainerFixture.data(rows: 60, seed: 4), test = TrainerFixture.data(rows: 20, seed: 6)
        let config = TrainingConfig(epochs: 3, learningRate: 0.1, optimizer: .sgd(momentum: 0.9), batchSize: 16, seed: 3)
        let cand = [Candidate(activations: [.layerwise(.softmax), TrainerFixture.prelu, .layerwise(.gumbelSoftmax)]),
                    Candidate(activations: [.layerwise(.softmin), .unary(.tanh, .x), .layerwise(.logSoftmax)])]
        let gpu = try trainer.train(candidates: cand, spec: spec, config: config, train: data, test: test)
        let ref = try ReferenceTrainer().train(candidates: cand, spec: spec, config: config, train: data, test: test)
        for (g, r) in zip(gpu.candidates, ref.candidates) {
            #expect(g.history.count == 3)
            for (ge, re) in zip(g.history, r.history) {
                #expect(abs(ge.train.loss - re.train.loss) < 1e-4)
                #expect(abs(ge.test!.loss - re.test!.loss) < 1e-4)
            }
            for (gl, rl) in zip(g.weights.layers, r.weights.layers) {
                #expect(zip(gl.weight, rl.weight).allSatisfy { abs($0 - $1) < 1e-4 })
            }
            #expect(abs(g.finalTest!.loss - r.finalTest!.loss) < 1e-4)
        }
    }

    @Test func rreluUsesItsMeanSlopeInEvaluationAndRandomSlopesInTraining() throws {
        let data = TrainerFixture.data(rows: 64, seed: 2)
        let cand = [Candidate(activations: [.unary(.rrelu, .x), .unary(.rrelu, .x)])]
        // No training: the final evaluation is the initial network in evaluation mode (mean slope 11/48).
        let untrained = try trainer.train(candidates: cand, spec: Self.spec, config: TrainingConfig(epochs: 0, learningRate: 0.01, seed: 1), train: data)
        let mean: ActivationExpr = .binary(.add, .unary(.relu, .x), .binary(.mul, .constant(11.0 / 48), .binary(.min, .constant(0), .x)))
        let leaky = try ReferenceTrainer().train(candidates: [Candidate(activations: [mean, mean])], spec: Self.spec,
                                                 config: TrainingConfig(epochs: 0, learningRate: 0.01, seed: 1), train: data)
        #expect(abs(untrained.candidates[0].finalTrain.loss - leaky.candidates[0].finalTrain.loss) < 1e-5)
        // Training draws slopes: the first epoch's loss differs from the mean-slope network's.
        let config = TrainingConfig(epochs: 1, learningRate: 0.01, seed: 1)
        let a = try trainer.train(candidates: cand, spec: Self.spec, config: config, train: data)
        let b = try trainer.train(candidates: cand, spec: Self.spec, config: config, train: data)
        let m = try trainer.train(candidates: [Candidate(activations: [mean, mean])], spec: Self.spec, config: config, train: data)
        #expect(a.candidates[0].history == b.candidates[0].history, "reproducible from the seed")
        #expect(a.candidates[0].history[0].train.loss != m.candidates[0].history[0].train.loss)
    }

    @Test func earlyStoppingFreezesFlatCandidatesLikeTheReference() throws {
        let data = TrainerFixture.data(rows: 64, seed: 2)
        let config = TrainingConfig(epochs: 30, learningRate: 1e-6, seed: 2, earlyStopping: EarlyStopping(patience: 3, minImprovement: 0.001))
        let cand = [Candidate(activations: [.unary(.tanh, .x), .x])]
        let gpu = try trainer.train(candidates: cand, spec: Self.spec, config: config, train: data).candidates[0]
        let ref = try ReferenceTrainer().train(candidates: cand, spec: Self.spec, config: config, train: data).candidates[0]
        #expect(gpu.stoppedEarly && ref.stoppedEarly)
        #expect(gpu.epochsRun == ref.epochsRun)
        #expect(gpu.epochsRun < 30)
    }
}

extension TrainerTests {
    @Test func splitsLargerThanOnePassAreEvaluatedInBlocks() throws {
        // Capacity 16 rows: the 50-row test split takes 4 passes; Gumbel noise is keyed by the dataset row,
        // so the blocks must agree with the reference's single pass.
        let spec = try MLPSpec(widths: [6, 12, 3], lastLayerActivation: true)
        let data = TrainerFixture.data(rows: 64, seed: 2), test = TrainerFixture.data(rows: 50, seed: 9)
        let config = TrainingConfig(epochs: 2, learningRate: 0.01, batchSize: 16, seed: 4)
        let cand = [Candidate(activations: [.unary(.tanh, .x), .layerwise(.gumbelSoftmax)])]
        let blocked = PopulationTrainer(device: TrainerFixture.device)
        blocked.evaluationBlockRows = 16
        let gpu = try blocked.train(candidates: cand, spec: spec, config: config, train: data, test: test).candidates[0]
        let ref = try ReferenceTrainer().train(candidates: cand, spec: spec, config: config, train: data, test: test).candidates[0]
        #expect(abs(gpu.finalTest!.loss - ref.finalTest!.loss) < 1e-4)
        #expect(gpu.finalTest!.accuracy == ref.finalTest!.accuracy)
        #expect(abs(gpu.history[1].test!.loss - ref.history[1].test!.loss) < 1e-4)
    }
}

extension TrainerTests {
    /// Study 1's noisy and row-wise functions on hidden layers one tile wide, where the fused row pass runs them as
    /// whole tiles (RReLU through the keyed span loops, each element keyed by its row's hash and its column; the
    /// softmax family's rows with their vectorised reductions), and on a 10-class logits layer (spans padded to
    /// whole vector bodies), follow the Double reference, whose keys are the kernels' (`ReferenceMLP`).
    @Test func noisyAndRowWiseFunctionsOnWholeTilesFollowTheDoubleReference() throws {
        func u(_ op: UnaryOp) -> ActivationExpr { .unary(op, .x) }
        func u(_ op: LayerwiseOp) -> ActivationExpr { .layerwise(op) }
        let spec = try MLPSpec(widths: [20, 64, 64, 10], lastLayerActivation: true)
        let data = TrainerFixture.data(rows: 45, features: 20, classes: 10, seed: 41)
        let config = TrainingConfig(epochs: 6, learningRate: 0.01, optimizer: .adam(), seed: 13, evaluateEveryEpoch: false)
        let cand = [
            Candidate(activations: [u(.rrelu), u(.gumbelSoftmax), u(.rrelu)]),
            Candidate(activations: [u(.softmin), u(.rrelu), u(.tanh)]),
            Candidate(activations: [u(.logSoftmax), u(.softmax), u(.sin)]),
        ]
        let gpu = try trainer.train(candidates: cand, spec: spec, config: config, train: data)
        let ref = try ReferenceTrainer().train(candidates: cand, spec: spec, config: config, train: data)
        for (i, (g, r)) in zip(gpu.candidates, ref.candidates).enumerated() {
            #expect(g.history.count == 6 && !g.diverged, "candidate \(i)")
            for (ge, re) in zip(g.history, r.history) {
                #expect(abs(ge.train.loss - re.train.loss) < 1e-4, "candidate \(i), epoch \(ge.epoch): \(ge.train.loss) against \(re.train.loss)")
            }
            for (gl, rl) in zip(g.weights.layers, r.weights.layers) {
                let worst = zip(gl.weight + gl.bias, rl.weight + rl.bias).map { abs($0 - $1) }.max() ?? 0
                #expect(worst < 1e-4, "candidate \(i): weights differ by \(worst)")
            }
        }
    }
}
