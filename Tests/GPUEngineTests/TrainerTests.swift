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
