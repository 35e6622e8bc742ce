import Testing
@testable import GPUEngine

@Suite struct ArchitectureTests {
    @Test func study2NetworksParse() throws {
        let cnn = try NetworkArchitecture.named("cnn")
        #expect(cnn.layers == [
            .conv(kernelHeight: 3, kernelWidth: 3, outChannels: 32, padding: 0, slot: 0), .maxPool(size: 2),
            .conv(kernelHeight: 3, kernelWidth: 3, outChannels: 64, padding: 0, slot: 1), .maxPool(size: 2),
            .flatten, .dropout(rate: 0.5), .linear(outputs: 1000, slot: 2), .linear(outputs: 10, slot: nil),
        ])
        #expect(cnn.slotCount == 3 && cnn.classCount == 10 && cnn.hasConvolutions)
        // 28×28 → 26 → 13 → 11 → 5: flatten 64·5·5 = 1600, as study 2's network.
        let shapes = try CNNWeights.shapes(architecture: cnn, inputShape: [1, 28, 28])
        #expect(shapes.map(\.shape) == [[32, 1, 3, 3], [64, 32, 3, 3], [1000, 1600], [10, 1000]])
        #expect(shapes.map(\.index) == [0, 2, 6, 7])

        let fcn = try NetworkArchitecture.named("FCN").mlpSpec(inputCount: 784)
        #expect(fcn.widths == [784, 32, 32, 32, 32, 32, 32, 32, 10])
        #expect(fcn.slotOfLayer == [0, 1, 1, 1, 1, 1, 2])
        #expect(!fcn.lastLayerActivation)
    }

    @Test func specStringsRoundTripAndDefaultSlots() throws {
        let a = try NetworkArchitecture(parsing: "conv5:8:p2, pool2, conv3x1:4, flatten, fc:16, dropout:0.25, fc:3")
        #expect(a.layers[0] == .conv(kernelHeight: 5, kernelWidth: 5, outChannels: 8, padding: 2, slot: 0))
        #expect(a.layers[2] == .conv(kernelHeight: 3, kernelWidth: 1, outChannels: 4, padding: 0, slot: 1))
        #expect(a.layers[4] == .linear(outputs: 16, slot: 2))
        #expect(try NetworkArchitecture(parsing: a.specString) == a)
        // An fc-only spec becomes the MLP trainer's spec; an explicit slot on the last layer activates it.
        let m = try NetworkArchitecture(parsing: "fc:8@0,fc:8@0,fc:4@1").mlpSpec(inputCount: 5)
        #expect(m.widths == [5, 8, 8, 4] && m.slotOfLayer == [0, 0, 1] && m.lastLayerActivation)
    }

    @Test func badSpecsNameTheColumnAndToken() throws {
        func failure(_ s: String) -> ArchitectureError? {
            do { _ = try NetworkArchitecture.named(s); return nil } catch let e as ArchitectureError { return e } catch { return nil }
        }
        let pool3 = failure("conv3x3:32,pool3,fc:10")
        #expect(pool3?.column == 12 && pool3?.token == "pool3")
        #expect(pool3?.description.contains("column 12") == true)
        #expect(failure("conv3x3:32,bogus:1,fc:10")?.token == "bogus:1")
        #expect(failure("conv3x3:0,fc:10")?.problem.contains("output channel") == true)
        #expect(failure("convAxB:3,fc:10")?.column == 1)
        #expect(failure("fc:10,")?.problem.contains("empty") == true)
        #expect(failure("fc:10,dropout:1.5,fc:2")?.token == "dropout:1.5")
        #expect(failure("fc:10,conv3x3:4,fc:2")?.token == "conv3x3:4")
        #expect(failure("conv3x3:4,pool2")?.problem.contains("last layer") == true)
        #expect(failure("fc:8@0,fc:8,fc:2")?.problem.contains("@N") == true)
        #expect(failure("fc:8@1,fc:2")?.problem.contains("slot 0") == true)
        #expect(throws: ArchitectureError.self) { try NetworkArchitecture.named("cnn").mlpSpec(inputCount: 784) }
        #expect(throws: TrainerError.self) { try CNNWeights.shapes(architecture: NetworkArchitecture.named("cnn"), inputShape: [1, 4, 4]) }
    }
}
