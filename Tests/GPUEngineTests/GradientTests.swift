import Foundation
import Testing
import Kernels
@testable import GPUEngine

/// The reference trainer's analytic gradients (the yardstick of the OpenCL trainer) against central finite
/// differences of its own loss, in Double, for every layer type and learnable activation parameters.
@Suite struct GradientTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let widths: [Int]
        let slotOfLayer: [Int]
        let last: Bool
        let activations: [ActivationExpr]
        var testDescription: String { name }
    }

    static let swish: ActivationExpr = .binary(.mul, .x, .unary(.sigmoid, .binary(.mul, .parameter(name: "b", initial: 1.5), .x)))

    static let cases: [Case] = [
        Case(name: "tanh, PReLU, softplus on the last layer", widths: [4, 6, 5, 3], slotOfLayer: [0, 1, 2], last: true,
             activations: [.unary(.tanh, .x), TrainerFixture.prelu, .unary(.softplus, .x)]),
        Case(name: "softmax hidden, learnable swish, log_softmax last", widths: [4, 6, 5, 3], slotOfLayer: [0, 1, 2], last: true,
             activations: [.layerwise(.softmax), swish, .layerwise(.logSoftmax)]),
        Case(name: "softmin and Gumbel-softmax hidden, plain logits", widths: [4, 5, 6, 3], slotOfLayer: [0, 1], last: false,
             activations: [.layerwise(.softmin), .layerwise(.gumbelSoftmax)]),
        Case(name: "one PReLU slot shared by three layers", widths: [4, 5, 5, 4, 3], slotOfLayer: [0, 0, 0, 1], last: true,
             activations: [TrainerFixture.prelu, .unary(.sigmoid, .x)]),
    ]

    @Test(arguments: cases)
    func analyticGradientsMatchCentralDifferences(_ c: Case) throws {
        let spec = try MLPSpec(widths: c.widths, slotOfLayer: c.slotOfLayer, lastLayerActivation: c.last)
        let data = TrainerFixture.data(rows: 7, features: c.widths[0], classes: c.widths.last!, seed: 5)
        let x = data.features.map(Double.init)
        var net = try ReferenceMLP(spec: spec, activations: c.activations,
                                   weights: LinearInit.weights(widths: c.widths, seed: 9), parameters: nil, seed: 4)
        // Move the learnable parameters off their initial values so their gradients are generic.
        net.parameters = net.parameters.map { $0.map { $0 + 0.3 } }
        let pass: UInt32 = 17
        let analytic = ReferenceTrainer.flatten(net.lossAndGradients(x, labels: data.labels, rows: 7, pass: pass).gradients)
        let theta = ReferenceTrainer.flatten(net)
        #expect(analytic.count == theta.count)
        func loss(_ t: [Double]) -> Double {
            var probe = net
            ReferenceTrainer.unflatten(t, into: &probe)
            return probe.lossAndGradients(x, labels: data.labels, rows: 7, pass: pass).loss
        }
        let h = 1e-5
        var worst = 0.0
        for i in theta.indices {
            var up = theta, down = theta
            up[i] += h
            down[i] -= h
            let numeric = (loss(up) - loss(down)) / (2 * h)
            let err = abs(numeric - analytic[i]) / (1e-6 + abs(numeric))
            worst = max(worst, min(err, abs(numeric - analytic[i]) * 1e4))
            #expect(abs(numeric - analytic[i]) <= 1e-7 + 1e-5 * abs(numeric), "parameter \(i): analytic \(analytic[i]) vs numeric \(numeric)")
        }
        // The parameter gradients are not all zero (the test would pass vacuously otherwise).
        #expect(analytic.contains { abs($0) > 1e-4 })
    }
}
