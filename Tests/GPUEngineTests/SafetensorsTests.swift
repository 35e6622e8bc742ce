import Foundation
import Testing
@testable import GPUEngine

/// Fixtures in Tests/Fixtures/safetensors were written by the reference `safetensors` package and PyTorch
/// (bench/fixtures/make_safetensors_fixtures.py); each has a JSON sidecar with the stored values.
private enum SafetensorsFixture {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/safetensors")

    static func load(_ name: String) throws -> (SafetensorsFile, [String: Any]) {
        let file = try SafetensorsFile(contentsOf: directory.appendingPathComponent("\(name).safetensors"))
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("\(name).json")))
        return (file, json as! [String: Any])
    }

    static func expected(_ sidecar: [String: Any], _ name: String) -> (shape: [Int], values: [Float]) {
        let entry = sidecar[name] as! [String: Any]
        return ((entry["shape"] as! [Any]).map { ($0 as! NSNumber).intValue },
                (entry["values"] as! [Any]).map { Float(($0 as! NSNumber).doubleValue) })
    }
}

@Suite struct SafetensorsTests {
    @Test func readsEveryDTypeWrittenByTheReferenceLibrary() throws {
        let (file, sidecar) = try SafetensorsFixture.load("dtypes")
        #expect(file.metadata == ["writer": "safetensors.torch", "format": "pt"])
        #expect(Set(file.tensors.keys) == Set(sidecar.keys))
        let dtypes: [String: SafetensorsDType] = ["f32.matrix": .f32, "f64.vector": .f64, "f16.vector": .f16,
                                                  "bf16.vector": .bf16, "f32.scalar": .f32, "f32.empty": .f32]
        for (name, dtype) in dtypes {
            let tensor = try file.tensor(name)
            let expected = SafetensorsFixture.expected(sidecar, name)
            #expect(tensor.storedDType == dtype, "\(name)")
            #expect(tensor.shape == expected.shape, "\(name)")
            // Every stored value is exactly representable as Float except the F64 ones, which convert
            // with one rounding — the same rounding Float(Double) applies to the sidecar.
            #expect(tensor.values.map(\.bitPattern) == expected.values.map(\.bitPattern), "\(name): \(tensor.values) vs \(expected.values)")
        }
    }

    @Test func halfPrecisionDecodingCoversSubnormalsAndSpecials() {
        #expect(SafetensorsFile.halfToFloat(0x0001) == 0x1p-24)          // smallest subnormal
        #expect(SafetensorsFile.halfToFloat(0x03FF) == 1023 * 0x1p-24)   // largest subnormal
        #expect(SafetensorsFile.halfToFloat(0x3C00) == 1)
        #expect(SafetensorsFile.halfToFloat(0x7BFF) == 65504)
        #expect(SafetensorsFile.halfToFloat(0xFC00) == -.infinity)
        #expect(SafetensorsFile.halfToFloat(0x7E00).isNaN)
        #expect(SafetensorsFile.halfToFloat(0x8000).sign == .minus)
    }

    @Test func torchMLPWeightsLoadWithPyTorchLayoutAndReproduceItsLogits() throws {
        let (file, sidecar) = try SafetensorsFixture.load("torch_mlp")
        let extra = sidecar["__extra__"] as! [String: Any]
        let widths = (extra["widths"] as! [Any]).map { ($0 as! NSNumber).intValue }
        let net = try LinearStackWeights(from: file, expectedWidths: widths, source: "torch_mlp.safetensors")
        #expect(net.widths == widths)
        let input = (extra["input"] as! [Any]).map { ($0 as! NSNumber).doubleValue }
        let logits = (extra["logits"] as! [Any]).map { ($0 as! NSNumber).doubleValue }
        let rows = input.count / widths[0]
        // Forward pass in Double: y[o] = Σ_i W[o, i]·x[i] + b[o], tanh between layers.
        for r in 0..<rows {
            var x = Array(input[(r * widths[0])..<((r + 1) * widths[0])])
            for (n, layer) in net.layers.enumerated() {
                var y = [Double](repeating: 0, count: layer.outputs)
                for o in 0..<layer.outputs {
                    var s = Double(layer.bias[o])
                    for i in 0..<layer.inputs { s += Double(layer.weight[o * layer.inputs + i]) * x[i] }
                    y[o] = n < net.layers.count - 1 ? tanh(s) : s
                }
                x = y
            }
            let want = Array(logits[(r * widths.last!)..<((r + 1) * widths.last!)])
            for (a, b) in zip(x, want) { #expect(abs(a - b) < 1e-5, "row \(r): \(x) vs \(want)") }
        }
        #expect(throws: SafetensorsError.self) { try LinearStackWeights(from: file, expectedWidths: [6, 5, 4, 2]) }
    }

    @Test func roundTripPreservesTensorsMetadataAndPopulationNames() throws {
        var rng = SystemRandomNumberGenerator()
        func layer(_ i: Int, _ o: Int) -> LinearStackWeights.Layer {
            .init(inputs: i, outputs: o, weight: (0..<(i * o)).map { _ in Float.random(in: -1...1, using: &rng) },
                  bias: (0..<o).map { _ in Float.random(in: -1...1, using: &rng) })
        }
        let population = (0..<3).map { _ in LinearStackWeights(layers: [layer(4, 7), layer(7, 2)]) }
        var file = SafetensorsFile(metadata: ["afsearch": "test", "quote\"key": "line\nbreak/slash"])
        for (i, net) in population.enumerated() { net.store(into: &file, prefix: LinearStackWeights.candidatePrefix(i)) }
        file.tensors["special"] = SafetensorsTensor(shape: [5], values: [.infinity, -.infinity, -0.0, .leastNonzeroMagnitude, .greatestFiniteMagnitude])
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("afsearch-roundtrip-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try file.write(to: url)
        let bytes = try Data(contentsOf: url)
        let headerLength = bytes.prefix(8).enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect(headerLength % 8 == 0, "data section must start 8-byte aligned")
        let back = try SafetensorsFile(contentsOf: url)
        #expect(back.metadata == file.metadata)
        #expect(back.tensors.keys.sorted() == file.tensors.keys.sorted())
        for (name, t) in file.tensors {
            #expect(back.tensors[name]!.shape == t.shape)
            #expect(back.tensors[name]!.values.map(\.bitPattern) == t.values.map(\.bitPattern), "\(name)")
        }
        #expect(try LinearStackWeights.population(from: back) == population)
        #expect(file.tensors["candidate.2.layers.1.weight"]!.shape == [2, 7])
    }

    @Test func malformedFilesAreRejectedWithTheProblemNamed() throws {
        func file(header: String, data: [UInt8]) -> Data {
            var d = Data()
            var n = UInt64(header.utf8.count).littleEndian
            withUnsafeBytes(of: &n) { d.append(contentsOf: $0) }
            d.append(contentsOf: Array(header.utf8))
            d.append(contentsOf: data)
            return d
        }
        let eight = [UInt8](repeating: 0, count: 8)
        let cases: [(String, Data, String)] = [
            ("short", Data([1, 2, 3]), "truncated"),
            ("header past end", file(header: "{}", data: []).prefix(9), "truncated"),
            ("not json", file(header: "{oops", data: []), "JSON"),
            ("bad dtype", file(header: #"{"a":{"dtype":"I8","shape":[8],"data_offsets":[0,8]}}"#, data: eight), "I8"),
            ("size mismatch", file(header: #"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: eight), "needs 12 bytes"),
            ("overlap", file(header: #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: eight), "overlaps"),
            ("gap", file(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: eight), "gap"),
            ("data past end", file(header: #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: eight), "truncated"),
            ("trailing bytes", file(header: #"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#, data: eight), "cover 4 bytes"),
        ]
        for (label, bytes, needle) in cases {
            do {
                _ = try SafetensorsFile(bytes: bytes)
                Issue.record("\(label): accepted a malformed file")
            } catch let error as SafetensorsError {
                #expect(error.description.contains(needle), "\(label): \(error.description)")
            }
        }
        let missing = SafetensorsFile()
        #expect(throws: SafetensorsError.missingTensor("layers.0.weight", file: "x.safetensors")) {
            try LinearStackWeights(from: missing, source: "x.safetensors")
        }
    }
}
