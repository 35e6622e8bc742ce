import Foundation
import Testing
import Kernels
@testable import GPUEngine

/// The reference CNN's backward pass (conv, pooling, dropout, Linear) against central finite differences
/// of its own forward pass, in Double.
@Suite struct ConvGradientTests {
    static let acts: [ActivationExpr] = [.unary(.tanh, .x), .unary(.softplus, .x), .unary(.sigmoid, .x)]

    /// Loss (sum of cross-entropies · scale) as a function of the network and the input.
    static func loss(_ net: ReferenceCNN, _ x: [Double], _ labels: [Int32], pass: UInt32) -> Double {
        let tape = net.forward(x, images: labels.count, training: true, pass: pass)
        return ReferenceCNN.lossAndHits(logits: tape.values.last!, labels: labels, classes: net.architecture.classCount).loss * 0.5
    }

    static func check(spec: String, inputShape: [Int], activations: [ActivationExpr]) throws {
        let arch = try NetworkArchitecture(parsing: spec)
        let w = try CNNWeights.initial(architecture: arch, inputShape: inputShape, seed: 3)
        let net = try ReferenceCNN(architecture: arch, inputShape: inputShape, activations: activations, weights: w, seed: 9)
        let images = 3, f = inputShape.reduce(1, *)
        let x = (0..<(images * f)).map { 2 * CounterRNG.uniform(seed: 5, stream: 0, counter: UInt64($0)) - 1 }
        let labels: [Int32] = [0, 2, 1]
        let pass: UInt32 = 7
        let g = net.backward(net.forward(x, images: images, training: true, pass: pass), labels: labels, images: images,
                             lossScale: 0.5, pass: pass)
        let h = 1e-5
        func central(_ f: (Double) -> Double) -> Double { (f(h) - f(-h)) / (2 * h) }
        for l in net.weights.indices {
            for k in Swift.stride(from: 0, to: net.weights[l].count, by: max(1, net.weights[l].count / 17)) {
                let fd = central { d in var n = net; n.weights[l][k] += d; return loss(n, x, labels, pass: pass) }
                #expect(abs(fd - g.weights[l][k]) < 1e-7 + 1e-5 * abs(fd), "\(spec): weight \(l)[\(k)] fd \(fd) vs \(g.weights[l][k])")
            }
            for k in net.biases[l].indices {
                let fd = central { d in var n = net; n.biases[l][k] += d; return loss(n, x, labels, pass: pass) }
                #expect(abs(fd - g.biases[l][k]) < 1e-7 + 1e-5 * abs(fd), "\(spec): bias \(l)[\(k)]")
            }
        }
        for s in net.parameters.indices {
            for k in net.parameters[s].indices {
                let fd = central { d in var n = net; n.parameters[s][k] += d; return loss(n, x, labels, pass: pass) }
                #expect(abs(fd - g.parameters[s][k]) < 1e-7 + 1e-5 * abs(fd), "\(spec): activation parameter \(s)[\(k)] fd \(fd) vs \(g.parameters[s][k])")
                #expect(g.parameters[s][k] != 0, "\(spec): activation parameter \(s)[\(k)] gets a gradient")
            }
        }
        for k in Swift.stride(from: 0, to: x.count, by: 5) {
            let fd = central { d in var xx = x; xx[k] += d; return loss(net, xx, labels, pass: pass) }
            #expect(abs(fd - g.input[k]) < 1e-7 + 1e-5 * abs(fd), "\(spec): input[\(k)]")
        }
        #expect(g.weights.allSatisfy { $0.contains { $0 != 0 } }, "every layer gets a gradient")
    }

    @Test func convPoolDropoutLinearGradientsMatchFiniteDifferences() throws {
        // Padding, two input channels, pooling after each conv, dropout on the flat features.
        try Self.check(spec: "conv3x3:4:p1,pool2,conv3x3:5,pool2,flatten,dropout:0.5,fc:7,fc:3", inputShape: [2, 8, 8],
                       activations: Self.acts)
        // conv → conv, dropout on a feature map, pooling an odd size (floor mode), non-square kernel.
        try Self.check(spec: "conv3x2:3,conv2x3:4,dropout:0.3,pool2,flatten,fc:3", inputShape: [1, 7, 8],
                       activations: Array(Self.acts.prefix(2)))
    }

    @Test func learnableParametersAndInputDropoutGradientsMatchFiniteDifferences() throws {
        // Input dropout; parameters in conv and Linear slots; slot 0 shared by a conv and the logits.
        try Self.check(spec: "dropout:0.3,conv3x3:4:p1@0,pool2,conv3x3:5@1,pool2,flatten,fc:7@2,fc:3@0", inputShape: [2, 8, 8],
                       activations: [CNNActivationFeatureTests.twoParameters, CNNActivationFeatureTests.swish, CNNActivationFeatureTests.swish])
    }

    @Test func layerwiseLinearSlotGradientsMatchFiniteDifferences() throws {
        try Self.check(spec: "conv3x3:4:p1,pool2,flatten,fc:7,fc:5,fc:3", inputShape: [1, 6, 6],
                       activations: [.unary(.tanh, .x), .layerwise(.softmax), .layerwise(.logSoftmax)])
        // Gumbel noise is a function of the pass's keys, fixed during the finite differences.
        try Self.check(spec: "conv3x3:4:p1,pool2,flatten,fc:7,fc:5,fc:3", inputShape: [1, 6, 6],
                       activations: [.unary(.sigmoid, .x), .layerwise(.gumbelSoftmax), .layerwise(.softmin)])
    }

    @Test func dropoutMaskIsSeededAndKeepsAboutOneMinusRate() {
        var kept = 0
        for j in 0..<20_000 where DropoutMask.keep(seed: 1, pass: 0, layer: 5, row: j / 100, index: j % 100, rate: 0.3) { kept += 1 }
        #expect(abs(Double(kept) / 20_000 - 0.7) < 0.02)
        let a = (0..<256).map { DropoutMask.keep(seed: 1, pass: 3, layer: 5, row: 0, index: $0, rate: 0.5) }
        let b = (0..<256).map { DropoutMask.keep(seed: 1, pass: 3, layer: 5, row: 0, index: $0, rate: 0.5) }
        let c = (0..<256).map { DropoutMask.keep(seed: 2, pass: 3, layer: 5, row: 0, index: $0, rate: 0.5) }
        let d = (0..<256).map { DropoutMask.keep(seed: 1, pass: 4, layer: 5, row: 0, index: $0, rate: 0.5) }
        #expect(a == b && a != c && a != d)
    }
}
