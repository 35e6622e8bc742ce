import Foundation
import Testing

/// `afsearch train --arch …` and `afsearch evolve --arch …` end to end on a tiny IDX image set the test
/// writes (12×12 bars in three classes): the CNN trains on the device, its weights round-trip through
/// safetensors, and every malformed request fails with an error naming what is wrong.
@Suite struct ArchitectureCommandTests {
    /// 10×10×4 after the convolution, 5×5×4 = 100 features after pooling, then the 3 logits.
    static let spec = "conv3x3:4,pool2,flatten,fc:3"

    /// `count` 12×12 images: class 0 a horizontal bar, 1 a vertical bar, 2 the diagonal, over faint noise.
    static func writeBarsIDX(in folder: URL, count: Int = 60) throws -> URL {
        let side = 12
        func bigEndian(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 255), UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)] }
        var images: [UInt8] = [0, 0, 8, 3] + [count, side, side].flatMap(bigEndian)
        var labels: [UInt8] = [0, 0, 8, 1] + bigEndian(count)
        for i in 0..<count {
            let k = i % 3, p = 2 + (i * 5) % 8
            var pixels = (0..<(side * side)).map { UInt8(($0 * 37 + i * 11) % 20) }
            for t in 0..<side {
                switch k {
                case 0: pixels[p * side + t] = 255
                case 1: pixels[t * side + p] = 255
                default: pixels[t * side + t] = 255
                }
            }
            images += pixels
            labels.append(UInt8(k))
        }
        let url = folder.appendingPathComponent("bars-images-idx3-ubyte")
        try Data(images).write(to: url)
        try Data(labels).write(to: folder.appendingPathComponent("bars-labels-idx1-ubyte"))
        return url
    }

    private struct Report: Decodable {
        struct Candidate: Decodable {
            struct Epoch: Decodable { var epoch: Int; var trainLoss: Double; var trainAccuracy: Double; var testAccuracy: Double? }
            var activations: [String]
            var diverged: Bool
            var finalTrainAccuracy: Double
            var finalTestAccuracy: Double?
            var history: [Epoch]
        }
        var widths: [Int]?
        var architecture: String?
        var candidates: [Candidate]
    }

    /// The JSON header of a safetensors file (u64 little-endian length, then JSON).
    static func safetensorsHeader(_ url: URL) throws -> [String: Any] {
        let bytes = try Data(contentsOf: url)
        try #require(bytes.count > 8)
        let length = bytes.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        try #require(length > 0 && 8 + Int(length) <= bytes.count)
        return try #require(try JSONSerialization.jsonObject(with: bytes.subdata(in: 8..<(8 + Int(length)))) as? [String: Any])
    }

    static func shape(_ header: [String: Any], _ name: String) -> [Int]? {
        (header[name] as? [String: Any])?["shape"] as? [Int]
    }

    @Test func trainACNNSavesPyTorchNamedWeightsThatInitWeightsContinuesFrom() throws {
        let cli = try CLI()
        let idx = try Self.writeBarsIDX(in: cli.root)
        let weights = cli.root.appendingPathComponent("cnn.safetensors")
        let common = ["train", "--dataset", idx.path, "--arch", Self.spec, "--activations", "relu", "--lr", "0.01", "--json"]

        let first = try cli.run(common + ["--epochs", "3", "--save-weights", weights.path])
        #expect(first.status == 0, "\(first.stderr)")
        let report = try JSONDecoder().decode(Report.self, from: Data(first.stdout.utf8))
        #expect(report.architecture == "conv3x3:4@0,pool2,flatten,fc:3")
        #expect(report.widths == nil)
        let candidate = try #require(report.candidates.first)
        #expect(report.candidates.count == 1)
        #expect(candidate.activations == ["relu(x)"])
        #expect(!candidate.diverged)
        #expect(candidate.history.map(\.epoch) == [0, 1, 2])
        let accuracies: [Double] = [candidate.finalTrainAccuracy, candidate.finalTestAccuracy ?? -1]
            + candidate.history.flatMap { e -> [Double] in [e.trainAccuracy, e.testAccuracy ?? -1] }
        #expect(accuracies.allSatisfy { $0 >= 0 && $0 <= 1 }, "accuracies \(accuracies)")
        #expect(candidate.history.allSatisfy { $0.trainLoss.isFinite && $0.trainLoss > 0 })

        // PyTorch's names and layouts: N is the layer's position in the spec (conv 0, fc 3), conv out×in×kh×kw.
        let header = try Self.safetensorsHeader(weights)
        #expect(Self.shape(header, "layers.0.weight") == [4, 1, 3, 3])
        #expect(Self.shape(header, "layers.0.bias") == [4])
        #expect(Self.shape(header, "layers.3.weight") == [3, 100])
        #expect(Self.shape(header, "layers.3.bias") == [3])
        #expect(Set(header.keys) == ["__metadata__", "layers.0.weight", "layers.0.bias", "layers.3.weight", "layers.3.bias"])
        let metadata = try #require(header["__metadata__"] as? [String: String])
        #expect(metadata["afsearch.architecture"] == "conv3x3:4@0,pool2,flatten,fc:3")
        #expect(metadata["afsearch.input_shape"] == "1,12,12")
        // one mean and std over all training pixels (scaled to [0, 1]): what a PyTorch user must apply first
        let mean = try #require(metadata["afsearch.input_mean"].flatMap(Double.init))
        let std = try #require(metadata["afsearch.input_std"].flatMap(Double.init))
        #expect(mean > 0 && mean < 0.5 && std > 0 && std < 1, "mean \(mean), std \(std)")

        // Full batch: the first epoch's training metrics are measured with the starting weights (no dropout
        // here), so a run from the saved weights starts exactly where the first one ended.
        let resumed = try cli.run(common + ["--epochs", "1", "--init-weights", weights.path])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let resumedFirst = try #require(try JSONDecoder().decode(Report.self, from: Data(resumed.stdout.utf8)).candidates.first?.history.first)
        #expect(resumedFirst.trainAccuracy == candidate.finalTrainAccuracy)
        #expect(resumedFirst.trainLoss < candidate.history[0].trainLoss)  // not the fresh start again

        // Weights of another architecture are refused, naming what the architecture needs.
        let mismatch = try cli.run(["train", "--dataset", idx.path, "--arch", "conv3x3:6,pool2,flatten,fc:3", "--activations", "relu",
                                    "--epochs", "1", "--init-weights", weights.path])
        #expect(mismatch.status != 0)
        #expect(mismatch.stderr.contains("layers.0.weight"))
        #expect(mismatch.stderr.contains("[6, 1, 3, 3]"))
    }

    @Test func trainACNNPopulationFromAFileStoresOneSetPerCandidate() throws {
        let cli = try CLI()
        let idx = try Self.writeBarsIDX(in: cli.root)
        let population = cli.root.appendingPathComponent("pop.txt")
        try "# one activation per slot\nrelu\ntanh(x)\n".write(to: population, atomically: true, encoding: .utf8)
        let weights = cli.root.appendingPathComponent("pop.safetensors")
        let run = try cli.run(["train", "--dataset", idx.path, "--arch", Self.spec, "--population-file", population.path,
                               "--epochs", "2", "--save-weights", weights.path])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("network conv3x3:4@0,pool2,flatten,fc:3, 2 candidate(s)"))
        #expect(run.stdout.contains("cand  epochs  train acc  test acc  activations"))
        #expect(run.stdout.contains("tanh(x)"))
        let header = try Self.safetensorsHeader(weights)
        for i in 0..<2 {
            #expect(Self.shape(header, "candidate.\(i).layers.0.weight") == [4, 1, 3, 3])
            #expect(Self.shape(header, "candidate.\(i).layers.3.weight") == [3, 100])
        }
        // Two stored candidates cannot start a population of one.
        let wrongCount = try cli.run(["train", "--dataset", idx.path, "--arch", Self.spec, "--activations", "relu",
                                      "--epochs", "1", "--init-weights", weights.path])
        #expect(wrongCount.status != 0)
        #expect(wrongCount.stderr.contains("holds 2 candidates"))
    }

    @Test func malformedArchitectureRequestsFailWithClearErrors() throws {
        let cli = try CLI()
        let idx = try Self.writeBarsIDX(in: cli.root)
        let csv = cli.root.appendingPathComponent("table.csv")
        try "a,b,label\n1,2,x\n2,1,y\n1,1,x\n2,2,y\n3,1,x\n1,3,y\n".write(to: csv, atomically: true, encoding: .utf8)

        func failure(_ arguments: [String], _ expected: String...) throws {
            let result = try cli.run(arguments)
            #expect(result.status != 0, "afsearch \(arguments.joined(separator: " ")) succeeded")
            for text in expected {
                #expect(result.stderr.contains(text), "afsearch \(arguments.joined(separator: " ")): '\(text)' not in \(result.stderr)")
            }
        }
        let train = ["train", "--dataset", idx.path, "--epochs", "1"]
        try failure(train + ["--arch", Self.spec, "--activations", "relu,tanh"],
                    "2 activation(s) for the 1 activation slot(s)", "give exactly 1")
        try failure(train + ["--arch", Self.spec, "--layers", "8", "--activations", "relu"], "either --layers", "or --arch")
        try failure(train + ["--arch", "conv9x9:4,pool2,conv3x3:4,flatten,fc:3", "--activations", "relu,relu"],
                    "does not fit the 1×12×12 images", "conv3x3")
        try failure(train + ["--arch", "conv3x3:4,pool2,flatten,fc:10", "--activations", "relu"],
                    "ends in fc:10", "has 3 classes")
        try failure(train + ["--arch", "conv3x3:4,poo2,flatten,fc:3", "--activations", "relu"], "column 11", "unknown layer 'poo2'")
        try failure(["train", "--dataset", csv.path, "--epochs", "1", "--arch", "conv3x3:4,pool2,flatten,fc:2", "--activations", "relu"],
                    "needs an image dataset", "tabular")

        // The trainer's own refusals name the population file's line, not a candidate index.
        let population = cli.root.appendingPathComponent("pop.txt")
        try "relu\nsoftmax\n".write(to: population, atomically: true, encoding: .utf8)
        try failure(train + ["--arch", Self.spec, "--population-file", population.path], "pop.txt:2:", "softmax")

        // evolve: the same checks before any study folder exists
        let evolve = ["evolve", "--generations", "1", "--population", "1", "--study", "bad"]
        try failure(evolve + ["--dataset", idx.path, "--arch", Self.spec], "has 1 activation slot(s)", "needs exactly 3")
        try failure(evolve + ["--dataset", csv.path, "--arch", "cnn"], "needs an image dataset")
        try failure(evolve + ["--dataset", idx.path, "--arch", "cnn"], "ends in fc:10", "3 classes")
        try failure(evolve + ["--dataset", idx.path, "--arch", "cnn", "--width", "64"], "--width and --hidden-layers shape the FCN")
        #expect(!FileManager.default.fileExists(atPath: cli.root.appendingPathComponent("runs/bad").path))
    }
}
