import Testing
import Kernels
import Datasets
@testable import GPUEngine

/// The CNN trainer with interpreted activations (`ActivationExecution.interpreted`, what evolution uses)
/// against the Double reference CNN: convolutions, pooling, dropout and Linear layers with new expressions.
@Suite(.serialized) struct CNNInterpreterTests {
    static let trainer: PopulationCNNTrainer = {
        let t = PopulationCNNTrainer(device: TrainerFixture.device)
        t.microBatchImages = 8
        t.activationExecution = .interpreted
        return t
    }()
    static let expressions = ["x * sigmoid(1.5 * x)", "max(x, 0.3 * sin(x))", "elu(x) * tanh(x) + elu(x)",
                              "softsign(x) * 0.2 + softplus(x - 1)", "min(relu6(x), hardswish(x))", "atan(3 * x) + logsigmoid(x)"]
        .map { try! ActivationExpr.parse($0) }

    static func check(_ arch: NetworkArchitecture, shape: [Int], data: LabeledData, config: TrainingConfig) throws {
        let e = Self.expressions
        let cand = [CNNCandidate(activations: [e[0], e[1], e[2]]), CNNCandidate(activations: [e[3], e[4], e[5]]),
                    CNNCandidate(activations: [e[5], .x, .unary(.tanh, .x)])]
        let gpu = try trainer.train(candidates: cand, architecture: arch, config: config, train: data)
        #expect(gpu.activationExecution == .interpreted)
        let ref = try ReferenceCNNTrainer().train(candidates: cand, architecture: arch, inputShape: shape, config: config,
                                                  train: data, microBatchImages: 8)
        for (i, (g, r)) in zip(gpu.candidates, ref).enumerated() {
            for (ge, re) in zip(g.history, r.history) {
                #expect(abs(ge.train.loss - re.train.loss) < 1e-4, "candidate \(i) epoch \(ge.epoch): \(ge.train.loss) vs \(re.train.loss)")
            }
            for (gl, rl) in zip(g.weights.layers, r.weights.layers) {
                let worst = zip(gl.weight + gl.bias, rl.weight + rl.bias).map { abs($0 - $1) }.max()!
                #expect(worst < 1e-4, "candidate \(i) layer \(gl.index): largest weight difference \(worst)")
            }
        }
    }

    @Test func paddedTilesMatchTheReference() throws {
        let config = TrainingConfig(epochs: 4, learningRate: 0.005, batchSize: 12, seed: 4, evaluateEveryEpoch: false)
        try Self.check(CNNFixture.arch, shape: CNNFixture.shape, data: CNNFixture.images(rows: 24, seed: 1), config: config)
    }

    @Test func wholeTilesMatchTheReference() throws {
        let arch = try NetworkArchitecture(parsing: "conv3x3:32,pool2,conv3x3:32:p1,pool2,flatten,dropout:0.25,fc:32,fc:3")
        let config = TrainingConfig(epochs: 3, learningRate: 0.002, batchSize: 8, seed: 3, evaluateEveryEpoch: false)
        try Self.check(arch, shape: CNNFixture.shape, data: CNNFixture.images(rows: 16, seed: 12), config: config)
    }
}
