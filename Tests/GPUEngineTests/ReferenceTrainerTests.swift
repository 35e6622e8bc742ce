import Foundation
import Testing
import Kernels
@testable import GPUEngine

@Suite struct ReferenceTrainerTests {
    @Test func adamStepFollowsPyTorchsRuleByHand() {
        // One parameter, two steps, lr 0.1: values worked out from torch.optim.Adam's update.
        var opt = ReferenceOptimizer(config: TrainingConfig(epochs: 1, learningRate: 0.1), parameterCount: 1)
        var p = [1.0]
        opt.step(&p, gradient: [0.5])
        // m = 0.05, v = 0.00025; m̂ = 0.5, v̂ = 0.25: p = 1 − 0.1·0.5/(0.5 + 1e-8)
        #expect(abs(p[0] - (1 - 0.1 * 0.5 / (0.5 + 1e-8))) < 1e-12)
        opt.step(&p, gradient: [-1.0])
        let m = 0.9 * 0.05 + 0.1 * -1.0, v = 0.999 * 0.00025 + 0.001 * 1.0
        let expected = (1 - 0.1 * 0.5 / (0.5 + 1e-8)) - 0.1 / (1 - 0.81) * m / (v.squareRoot() / (1 - 0.999 * 0.999).squareRoot() + 1e-8)
        #expect(abs(p[0] - expected) < 1e-12)
    }

    @Test func sgdMomentumStartsFromTheFirstGradient() {
        var opt = ReferenceOptimizer(config: TrainingConfig(epochs: 1, learningRate: 0.5, optimizer: .sgd(momentum: 0.9)), parameterCount: 1)
        var p = [0.0]
        opt.step(&p, gradient: [1])
        #expect(p[0] == -0.5)
        opt.step(&p, gradient: [1])
        #expect(abs(p[0] - (-0.5 - 0.5 * 1.9)) < 1e-15)
    }

    @Test func earlyStoppingCountsFlatEpochsInARow() {
        var t = EarlyStoppingTracker(rule: EarlyStopping(patience: 3, minImprovement: 0.001))
        let accs = [0.5, 0.6, 0.6005, 0.61, 0.61, 0.6105, 0.611]
        let stops = accs.map { t.record(trainAccuracy: $0) }
        #expect(stops == [false, false, false, false, false, false, true])
    }

    @Test func linearInitIsPyTorchsBoundAndDependsOnlyOnTheSeed() {
        let w = LinearInit.weights(widths: [16, 4, 3], seed: 42)
        #expect(w.layers[0].weight.allSatisfy { abs($0) <= 0.25 })
        #expect(w.layers[1].bias.allSatisfy { abs($0) <= 0.5 })
        #expect(w == LinearInit.weights(widths: [16, 4, 3], seed: 42))
        #expect(w != LinearInit.weights(widths: [16, 4, 3], seed: 43))
        let mean = w.layers[0].weight.reduce(0, +) / Float(w.layers[0].weight.count)
        #expect(abs(mean) < 0.06)
    }

    @Test func shuffleIsAPermutationFixedBySeedAndEpoch() {
        let a = EpochShuffle.order(rows: 50, seed: 1, epoch: 0)
        #expect(Set(a) == Set((0..<50).map { Int32($0) }))
        #expect(a == EpochShuffle.order(rows: 50, seed: 1, epoch: 0))
        #expect(a != EpochShuffle.order(rows: 50, seed: 1, epoch: 1))
    }

    @Test func badInputIsNamed() throws {
        let spec = try MLPSpec(widths: [6, 8, 3], lastLayerActivation: false)
        let data = TrainerFixture.data(rows: 10, seed: 1)
        #expect(throws: TrainerError.invalidCandidate(index: 0, problem: "has 2 activations, the spec has 1 slots")) {
            try ReferenceTrainer().train(candidates: [Candidate(activations: [.x, .x])], spec: spec,
                                         config: TrainingConfig(epochs: 1, learningRate: 0.1), train: data)
        }
        var bad = data
        bad.labels[3] = 7
        #expect(throws: TrainerError.invalidData(split: "training", problem: "label 7 is outside 0..<3 (the network's classes)")) {
            try ReferenceTrainer().train(candidates: [Candidate(activations: [.x])], spec: spec,
                                         config: TrainingConfig(epochs: 1, learningRate: 0.1), train: bad)
        }
        #expect(throws: TrainerError.self) { try MLPSpec(widths: [6, 8, 3], slotOfLayer: [1], lastLayerActivation: false) }
    }
}
