import Foundation
import Testing
import Kernels
import Datasets
@testable import GPUEngine

/// The CNN trainer's learnable activation parameters, layer-wise (softmax family) Linear slots and input
/// dropout, each against the Double reference CNN (finite differences there, 10 Adam steps on PoCL here).
@Suite(.serialized) struct CNNActivationFeatureTests {
    let trainer = CNNFixture.trainer

    /// PReLU: max(0, x) + a · min(0, x), a = 0.25.
    static let prelu: ActivationExpr = .binary(.add, .binary(.max, .constant(0), .x),
                                               .binary(.mul, .parameter(name: "a", initial: 0.25), .binary(.min, .constant(0), .x)))
    /// Swish with a learnable β = 1.5: x · sigmoid(β x).
    static let swish: ActivationExpr = .binary(.mul, .x, .unary(.sigmoid, .binary(.mul, .parameter(name: "b", initial: 1.5), .x)))
    /// Two parameters: a · tanh(x) + c · x.
    static let twoParameters: ActivationExpr = .binary(.add, .binary(.mul, .parameter(name: "a", initial: 0.7), .unary(.tanh, .x)),
                                                       .binary(.mul, .parameter(name: "c", initial: 0.4), .x))

    /// Trains `candidates` together on the device and each alone in the reference; losses, weights and
    /// activation parameters agree within 1e-4 after 10 Adam steps (micro-batches of 8 + 4 images).
    func expectMatchesReference(_ candidates: [CNNCandidate], spec: String, file: String = #fileID, line: Int = #line) throws {
        let arch = try NetworkArchitecture(parsing: spec)
        let data = CNNFixture.images(rows: 24, seed: 11)
        let config = TrainingConfig(epochs: 5, learningRate: 0.005, batchSize: 12, seed: 8, evaluateEveryEpoch: false)
        let gpu = try trainer.train(candidates: candidates, architecture: arch, config: config, train: data).candidates
        let ref = try ReferenceCNNTrainer().train(candidates: candidates, architecture: arch, inputShape: CNNFixture.shape,
                                                  config: config, train: data, microBatchImages: 8)
        for (i, (g, r)) in zip(gpu, ref).enumerated() {
            #expect(!g.diverged, "candidate \(i)")
            #expect(g.history.count == 5)
            for (ge, re) in zip(g.history, r.history) {
                #expect(abs(ge.train.loss - re.train.loss) < 1e-4, "candidate \(i) epoch \(ge.epoch): \(ge.train.loss) vs \(re.train.loss)")
            }
            var worst: Float = 0
            for (gl, rl) in zip(g.weights.layers, r.weights.layers) {
                worst = max(worst, zip(gl.weight + gl.bias, rl.weight + rl.bias).map { abs($0 - $1) }.max()!)
            }
            #expect(worst < 1e-4, "candidate \(i): largest weight difference \(worst)")
            #expect(g.activationParameters.map(\.count) == r.activationParameters.map(\.count), "candidate \(i)")
            for (gp, rp) in zip(g.activationParameters.joined(), r.activationParameters.joined()) {
                #expect(abs(gp - rp) < 1e-4, "candidate \(i): activation parameter \(gp) vs \(rp)")
            }
        }
    }

    @Test func learnableParametersAndInputDropoutMatchReference() throws {
        // Input dropout; slot 2 is shared by fc:12 and the logits (so the loss kernel's partials count too).
        // The second conv has 8 input channels and padding: its weight gradients take the one-tap-per-tile
        // path of cnn_conv_backward_weights, with the taps' pixel ranges clipped at the borders.
        let spec = "dropout:0.2,conv3x3:8:p1@0,pool2,conv3x3:6:p1@1,pool2,flatten,fc:12@2,fc:3@2"
        let cands = [CNNCandidate(activations: [Self.prelu, .unary(.tanh, .x), Self.swish]),
                     CNNCandidate(activations: [Self.twoParameters, Self.swish, .unary(.softplus, .x)])]
        try expectMatchesReference(cands, spec: spec)
        // The parameters moved, and each candidate reports its own count per slot.
        let arch = try NetworkArchitecture(parsing: spec)
        let config = TrainingConfig(epochs: 5, learningRate: 0.005, batchSize: 12, seed: 8, evaluateEveryEpoch: false)
        let r = try trainer.train(candidates: cands, architecture: arch, config: config, train: CNNFixture.images(rows: 24, seed: 11))
        #expect(r.candidates[0].activationParameters.map(\.count) == [1, 0, 1])
        #expect(r.candidates[1].activationParameters.map(\.count) == [2, 1, 0])
        #expect(r.candidates[0].activationParameters[0][0] != 0.25)
    }

    @Test func layerwiseLinearSlotsMatchReference() throws {
        // Softmax family on both hidden Linear layers (dropout before, not after them) and, through the
        // shared slot 3, on the logits (the loss kernel's path), mixed in one population with element-wise
        // functions and a learnable parameter in the same slots.
        let spec = "conv3x3:4:p1@0,pool2,conv3x3:6@1,pool2,flatten,dropout:0.3,fc:12@2,fc:8@3,fc:3@3"
        let cands = [
            CNNCandidate(activations: [.unary(.tanh, .x), .unary(.softplus, .x), .layerwise(.softmax), .layerwise(.logSoftmax)]),
            CNNCandidate(activations: [.unary(.sigmoid, .x), .unary(.tanh, .x), .layerwise(.gumbelSoftmax), .layerwise(.softmin)]),
            CNNCandidate(activations: [Self.prelu, .unary(.tanh, .x), Self.swish, .unary(.tanh, .x)]),
        ]
        try expectMatchesReference(cands, spec: spec)
    }

    @Test func unsupportedPlacesAreClearErrors() throws {
        let data = CNNFixture.images(rows: 8, seed: 1)
        let config = TrainingConfig(epochs: 1, learningRate: 0.01)
        func problem(_ c: CNNCandidate, _ spec: String) -> String? {
            do {
                _ = try trainer.train(candidates: [c], architecture: try NetworkArchitecture(parsing: spec), config: config, train: data)
                return nil
            } catch {
                return "\(error)"
            }
        }
        let conv = problem(CNNCandidate(activations: [.layerwise(.softmax), .x, .x]), CNNFixture.arch.specString)
        #expect(conv?.contains("Linear layers only") == true, "\(conv ?? "no error")")
        let dropped = problem(CNNCandidate(activations: [.x, .x, .layerwise(.softmax)]),
                              "conv3x3:4:p1,pool2,conv3x3:6,pool2,flatten,fc:12,dropout:0.5,fc:3")
        #expect(dropped?.contains("dropped") == true, "\(dropped ?? "no error")")
        let counts = problem(CNNCandidate(activations: [Self.prelu, .x, .x], initialActivationParameters: [[0.1, 0.2], [], []]),
                             CNNFixture.arch.specString)
        #expect(counts?.contains("initial activation parameters") == true, "\(counts ?? "no error")")
    }
}
