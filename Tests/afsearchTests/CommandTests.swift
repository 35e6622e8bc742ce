import Foundation
import Testing
@testable import afsearch

/// End-to-end checks of the `afsearch` binary: each test launches the built executable and asserts on its
/// exit status, stdout and stderr. Every run gets its own AFSEARCH_CACHE/RUNS/DATA temp folders.
@Suite struct CommandTests {
    // MARK: help and version

    @Test func helpListsEverySubcommandAndVersionPrintsTheVersion() throws {
        let cli = try CLI()
        let help = try cli.run(["--help"])
        #expect(help.status == 0)
        let names = AFSearch.configuration.subcommands.compactMap { $0.configuration.commandName }
        #expect(names.count == 16)
        for name in names {
            #expect(help.stdout.contains("\n  \(name) "), "--help does not list '\(name)'")
        }
        let version = try cli.run(["--version"])
        #expect(version.status == 0)
        #expect(version.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == AFSearchVersion.string)
    }

    // MARK: compile

    @Test func compileReportsParseErrorsWithColumnAndSuggestion() throws {
        let cli = try CLI()
        let malformed = try cli.run(["compile", "x*sigmoid(x"])
        #expect(malformed.status != 0)
        #expect(malformed.stdout.isEmpty)
        #expect(malformed.stderr.contains("invalid expression 'x*sigmoid(x'"))
        #expect(malformed.stderr.contains("expected ')'"))
        #expect(malformed.stderr.contains("at column 12"))  // just past the 11-character text

        let typo = try cli.run(["compile", "sigmod(x)"])
        #expect(typo.status != 0)
        #expect(typo.stdout.isEmpty)
        #expect(typo.stderr.contains("unknown function 'sigmod' at column 1"))
        #expect(typo.stderr.contains("did you mean 'sigmoid'"))
    }

    // MARK: eval

    private static func rows(_ result: CLIResult) -> [(x: Double, value: Double, derivative: Double)]? {
        guard let array = result.json as? [[String: Any]] else { return nil }
        return array.compactMap { row in
            guard let x = row["x"] as? Double, let v = row["value"] as? Double, let d = row["derivative"] as? Double else { return nil }
            return (x, v, d)
        }
    }

    @Test func evalReluOnCPUAndDeviceAgree() throws {
        let cli = try CLI()
        let cpu = try cli.run(["eval", "relu(x)", "--at", "-1,0,2", "--cpu", "--json"])
        #expect(cpu.status == 0, "\(cpu.stderr)")
        let cpuRows = try #require(Self.rows(cpu), "not JSON rows: \(cpu.stdout)")
        #expect(cpuRows.map(\.x) == [-1, 0, 2])
        #expect(cpuRows.map(\.value) == [0, 0, 2])
        #expect(cpuRows.map(\.derivative) == [0, 0, 1])

        let device = try cli.run(["eval", "relu(x)", "--at", "-1,0,2", "--json"])
        #expect(device.status == 0, "\(device.stderr)")
        let deviceRows = try #require(Self.rows(device), "not JSON rows: \(device.stdout)")
        try #require(deviceRows.count == cpuRows.count)
        for (d, c) in zip(deviceRows, cpuRows) {
            #expect(d.x == c.x)
            #expect(abs(d.value - c.value) <= 1e-6, "f(\(c.x)): device \(d.value), cpu \(c.value)")
            #expect(abs(d.derivative - c.derivative) <= 1e-6, "f'(\(c.x)): device \(d.derivative), cpu \(c.derivative)")
        }
    }

    // MARK: devices

    @Test func devicesListsAndBadSelectorNamesTheDevices() throws {
        let cli = try CLI()
        let listing = try cli.run(["devices", "--json"], environment: ["AFSEARCH_DEVICE": nil])
        #expect(listing.status == 0, "\(listing.stderr)")
        let object = try #require(listing.json as? [String: Any], "not a JSON object: \(listing.stdout)")
        let devices = try #require(object["devices"] as? [[String: Any]])
        #expect(devices.count >= 1)
        let defaultIndex = try #require(object["defaultIndex"] as? Int)
        #expect(devices.indices.contains(defaultIndex))
        let firstName = try #require(devices.first?["name"] as? String)

        let bad = ["AFSEARCH_DEVICE": "nonexistent-xyz"]
        // A command that needs a device fails and lists what there is.
        let selftest = try cli.run(["selftest", "--count", "16"], environment: bad)
        #expect(selftest.status != 0)
        #expect(selftest.stdout.isEmpty)
        #expect(selftest.stderr.contains("AFSEARCH_DEVICE 'nonexistent-xyz' matches no OpenCL device"))
        #expect(selftest.stderr.contains("Devices:"))
        #expect(selftest.stderr.contains(firstName))
        // `devices` is where one goes to fix it: it still lists, with a warning.
        let warned = try cli.run(["devices", "--json"], environment: bad)
        #expect(warned.status == 0)
        #expect((warned.json as? [String: Any])?["devices"] is [Any])
        #expect(warned.stderr.contains("warning: AFSEARCH_DEVICE 'nonexistent-xyz' matches no OpenCL device"))
    }

    // MARK: menu

    @Test func menuPaper1HasFortyEightEntries() throws {
        let cli = try CLI()
        let result = try cli.run(["menu", "paper1", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let rows = try #require(result.json as? [[String: Any]], "not a JSON array: \(result.stdout)")
        #expect(rows.count == 48)
        let names = rows.compactMap { $0["name"] as? String }
        #expect(Set(names).count == 48)
        #expect(rows.allSatisfy { ($0["expression"] as? String)?.isEmpty == false })
    }

    // MARK: datasets

    @Test func datasetsInAnEmptyFolderAreAbsentAndLoadingOneAsksForMakeData() throws {
        let cli = try CLI()
        let json = try cli.run(["datasets", "--data-root", cli.data.path, "--no-measure", "--json"])
        #expect(json.status == 0, "\(json.stderr)")
        let rows = try #require(json.json as? [[String: Any]], "not a JSON array: \(json.stdout)")
        #expect(rows.count > 0)
        #expect(rows.allSatisfy { $0["present"] as? Bool == false })
        #expect(rows.contains { $0["name"] as? String == "keel/wine" })

        let text = try cli.run(["datasets", "--data-root", cli.data.path, "--no-measure"])
        #expect(text.status == 0)
        #expect(text.stdout.contains("\(rows.count) datasets, 0 present in \(cli.data.path)"))
        #expect(text.stdout.contains("run `make data` to fetch the \(rows.count) absent"))

        let train = try cli.run(["train", "--dataset", "keel/wine", "--layers", "4", "--activations", "relu", "--epochs", "1"])
        #expect(train.status != 0)
        #expect(train.stdout.isEmpty)
        #expect(train.stderr.contains("dataset 'keel/wine' is not present"))
        #expect(train.stderr.contains("make data"))
        #expect(train.stderr.contains(cli.data.path))
    }

    // MARK: train

    /// 60 rows, 4 features, 3 well-separated classes (class k is shifted along feature k), deterministic.
    private static func tinyCSV() -> String {
        var lines = ["f0,f1,f2,f3,label"]
        for i in 0..<60 {
            let k = i % 3
            let features = (0..<4).map { j in (j == k ? 3.0 : 0.0) + 0.3 * sin(Double(i * 7 + j * 13)) }
            lines.append(features.map { String(format: "%.4f", $0) }.joined(separator: ",") + ",class\(k)")
        }
        return lines.joined(separator: "\n") + "\n"
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
        var widths: [Int]
        var candidates: [Candidate]
    }

    @Test func trainOnATinyCSVSavesWeightsThatInitWeightsAccepts() throws {
        let cli = try CLI()
        let csv = cli.root.appendingPathComponent("tiny.csv")
        try Self.tinyCSV().write(to: csv, atomically: true, encoding: .utf8)
        let weights = cli.root.appendingPathComponent("w.safetensors")
        let common = ["train", "--dataset", csv.path, "--layers", "8", "--activations", "relu", "--epochs", "3", "--json"]

        let first = try cli.run(common + ["--save-weights", weights.path])
        #expect(first.status == 0, "\(first.stderr)")
        let report = try JSONDecoder().decode(Report.self, from: Data(first.stdout.utf8))
        #expect(report.widths == [4, 8, 3])
        let candidate = try #require(report.candidates.first)
        #expect(report.candidates.count == 1)
        #expect(candidate.activations == ["relu(x)"])
        #expect(!candidate.diverged)
        #expect(candidate.history.map(\.epoch) == [0, 1, 2])
        let accuracies: [Double] = [candidate.finalTrainAccuracy, candidate.finalTestAccuracy ?? -1]
            + candidate.history.flatMap { e -> [Double] in [e.trainAccuracy, e.testAccuracy ?? -1] }
        #expect(accuracies.allSatisfy { $0 >= 0 && $0 <= 1 }, "accuracies \(accuracies)")

        // safetensors: u64 little-endian header length, then a JSON header naming PyTorch-style tensors.
        let bytes = try Data(contentsOf: weights)
        try #require(bytes.count > 8)
        let headerLength = bytes.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        try #require(headerLength > 0 && 8 + Int(headerLength) <= bytes.count)
        let header = try #require(try JSONSerialization.jsonObject(with: bytes.subdata(in: 8..<(8 + Int(headerLength)))) as? [String: Any])
        for name in ["layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias"] {
            #expect(header[name] != nil, "\(name) missing from \(header.keys.sorted())")
        }

        // Same seed, so only the starting weights differ: the first epoch's loss must change.
        let resumed = try cli.run(common + ["--init-weights", weights.path])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let resumedReport = try JSONDecoder().decode(Report.self, from: Data(resumed.stdout.utf8))
        let resumedFirst = try #require(resumedReport.candidates.first?.history.first)
        #expect(resumedFirst.trainLoss != candidate.history[0].trainLoss)

        // Weights of another shape are refused with both shapes named.
        let mismatch = try cli.run(["train", "--dataset", csv.path, "--layers", "16", "--activations", "relu",
                                    "--epochs", "1", "--init-weights", weights.path])
        #expect(mismatch.status != 0)
        #expect(mismatch.stderr.contains("4→8→3"))
        #expect(mismatch.stderr.contains("4→16→3"))
    }

    // MARK: bench

    /// `bench train` on a tiny study-1 workload with each row pass: the same training (the same final
    /// accuracy) at some rate, and a bad block size refused by name.
    @Test func benchTrainRowPassesAgreeAndBadBlockRowsAreRefused() throws {
        let cli = try CLI()
        var accuracies: [String: Double] = [:]
        for pass in ["candidates", "tiles", "layers"] {
            let result = try cli.run(["bench", "train", "--population", "4", "--depth", "3", "--samples", "40", "--epochs", "3",
                                      "--peak", "none", "--row-pass", pass, "--block-rows", "8", "--json"])
            #expect(result.status == 0, "\(pass): \(result.stderr)")
            let report = try #require(result.json as? [String: Any], "\(pass): \(result.stdout)")
            let run = try #require(((report["runs"] as? [[String: Any]])?.first?["result"]) as? [String: Any])
            #expect((run["candidateEpochsPerSecond"] as? Double ?? 0) > 0, "\(pass)")
            accuracies[pass] = run["meanFinalTrainAccuracy"] as? Double
        }
        #expect(accuracies["candidates"] != nil && accuracies["candidates"] == accuracies["tiles"], "\(accuracies)")
        #expect(accuracies["tiles"] == accuracies["layers"], "\(accuracies)")

        // The device is named once, though the GEMM peak is measured first; the old --layers spelling still works.
        let text = try cli.run(["bench", "train", "--population", "2", "--layers", "3", "--samples", "16", "--epochs", "1",
                                "--peak", "quick"])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.components(separatedBy: "device:").count == 2, "\(text.stdout)")
        #expect(text.stdout.contains("measured GEMM peak"), "\(text.stdout)")
        #expect(text.stdout.contains("measured FMA peak") && text.stdout.contains("the GEMM peak is"), "\(text.stdout)")
        // The run's GFLOP/s as shares of both peaks: "of peak" and "of FMA" columns, each a percentage.
        let row = try #require(text.stdout.split(separator: "\n").last(where: { $0.hasPrefix("    2   3") }), "\(text.stdout)")
        #expect(row.matches(of: /\d+%/).count == 2, "\(row)")

        let bad = try cli.run(["bench", "train", "--block-rows", "0", "--peak", "none"])
        #expect(bad.status != 0)
        #expect(bad.stderr.contains("--block-rows must be at least 1"), "\(bad.stderr)")
    }

    // MARK: export

    @Test func exportToLatex() throws {
        let cli = try CLI()
        let result = try cli.run(["export", "x*sigmoid(x)", "--to", "latex"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("\\sigma\\left(x\\right)"), "got \(result.stdout)")
        #expect(result.stdout.hasSuffix("\n"))

        let unknown = try cli.run(["export", "x", "--to", "fortran"])
        #expect(unknown.status == 64)
        #expect(unknown.stderr.contains("'fortran'"))
        #expect(unknown.stderr.contains("'pytorch', 'jax' or 'latex'"))
    }
}
