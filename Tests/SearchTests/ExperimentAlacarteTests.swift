import Foundation
import GPUEngine
import Kernels
import TestSupport
import Testing
@testable import Search

/// One OpenCL device (PoCL on CI) for the search tests; its program cache is shared by every test.
enum SearchDeviceFixture {
    static let device = Result { try ComputeDevice.select(nil) }
}

/// Counts evaluators made, to show that a resumed experiment trains nothing it already finished.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func increment() { lock.withLock { value += 1 } }
    var count: Int { lock.withLock { value } }
}

@Suite struct ExperimentAlacarteTests {
    // Two entries keep the number of distinct OpenCL programs (one per set of distinct expressions in a
    // population) small: building them on a cold PoCL cache is what this test spends its time on.
    let menu = [MenuChoice(name: "relu", expression: .unary(.relu, .x)),
                MenuChoice(name: "tanh", expression: .unary(.tanh, .x))]

    func experiment(folder: URL, counter: Counter) throws -> AlaCarteExperiment {
        let settings = AlaCarteExperimentSettings(
            datasets: ["blobs"], layers: [2], replicates: 3, trials: 3, population: 3, epochs: 4, learningRate: 0.01,
            seed: 5, menuName: "test", menuEntries: menu.map(\.name))
        return try AlaCarteExperiment(
            settings: settings, menu: menu, folder: folder,
            splits: { dataset, seed in
                #expect(dataset == "blobs")
                return blobSplits(rows: 40, seed: seed)
            },
            evaluator: { setup, splits, store in
                counter.increment()
                return PopulationEvaluator(backend: TrainerBackend.openCL(device: try SearchDeviceFixture.device.get()),
                                           setup: setup, splits: splits, store: store)
            })
    }

    /// Without a population each search asks `poolWidth` for its dataset and depth, once, and its study
    /// records the answer; an experiment stored with a population keeps it when run again without one.
    @Test func searchesWithoutAPopulationTakeThePoolWidthTheyAreGiven() async throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let settings = AlaCarteExperimentSettings(
            datasets: ["blobs"], layers: [2], replicates: 1, trials: 2, population: nil, epochs: 2, learningRate: 0.01,
            seed: 5, methods: [.standard, .random, .tpe], menuName: "test", menuEntries: menu.map(\.name))
        let splits: AlaCarteExperiment.SplitProvider = { _, seed in blobSplits(rows: 40, seed: seed) }
        let evaluator: AlaCarteExperiment.EvaluatorFactory = { setup, splits, store in
            PopulationEvaluator(backend: TrainerBackend.openCL(device: try SearchDeviceFixture.device.get()),
                                setup: setup, splits: splits, store: store)
        }
        var experiment = try AlaCarteExperiment(settings: settings, menu: menu, folder: folder, splits: splits, evaluator: evaluator)
        let asked = Counter()
        experiment.poolWidth = { setup, splits, cell in
            #expect(setup.slotCount == 2 && splits.train.rowCount > 0 && cell.method != .standard)
            asked.increment()
            return 3
        }
        _ = try await experiment.run()
        #expect(asked.count == 2)
        let studies = StudyCatalog(root: folder.appendingPathComponent("studies"))
        for name in studies.names() {
            #expect(try studies.open(name, create: false).settings(as: AlaCarteSettings.self)?.population == 3)
        }
        #expect(try SQLiteStudyStore(path: folder.appendingPathComponent("experiment.sqlite").path)
            .settings(as: AlaCarteExperimentSettings.self)?.population == nil)

        // An experiment that was started with a population: run again without one, it keeps it (nothing to do).
        let other = try temporaryFolder("other")
        defer { try? FileManager.default.removeItem(at: other) }
        var fixed = settings
        fixed.population = 2
        _ = try await AlaCarteExperiment(settings: fixed, menu: menu, folder: other, splits: splits, evaluator: evaluator).run()
        var again = try AlaCarteExperiment(settings: settings, menu: menu, folder: other, splits: splits,
                                           evaluator: { _, _, _ in throw AlaCarteError.invalidSettings("nothing should train") })
        again.poolWidth = { _, _, _ in throw AlaCarteError.invalidSettings("nothing should ask") }
        _ = try await again.run()
    }

    /// End to end on the real population trainer (OpenCL; PoCL here).
    @Test func tinyExperimentWritesAllThreeTablesAndResumes() async throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let counter = Counter()
        let table = try await experiment(folder: folder, counter: counter).run()
        #expect(counter.count == 12)  // 3 replicates × 4 methods
        #expect(table.rows.count == 1)
        let row = table.rows[0]
        #expect(row.replicates == 3 && row.layers == 2)
        // With 3 + 3 values the test is exact (20 labellings), so p ≥ 0.1: never significant.
        #expect(row.versusStandard[.tpe]?.exact == true)
        #expect(table.tally().allSatisfy { $0.ties == 1 && $0.wins == 0 && $0.losses == 0 })

        // The medians in the table are the medians of the stored per-replicate test accuracies.
        let cells = try SQLiteStudyStore(path: folder.appendingPathComponent("experiment.sqlite").path).trials()
        #expect(cells.count == 12 && cells.allSatisfy { $0.state == .complete })
        for method in AlaCarteMethod.allCases {
            let values = cells.filter { $0.parameters["method"] == method.rawValue }.compactMap(\.testAccuracy)
            #expect(values.count == 3)
            #expect(row.medianTest[method] == median(values))
        }
        // Every search cell is a study of its own with all its trials.
        let studies = StudyCatalog(root: folder.appendingPathComponent("studies"))
        #expect(studies.names().count == 6)
        #expect(studies.summaries().allSatisfy { $0.finishedCount == 3 })

        let markdown = try String(contentsOf: folder.appendingPathComponent("table.md"), encoding: .utf8)
        #expect(markdown.contains("| blobs | 2 | 3 |"))
        #expect(markdown.contains("tpe vs standard: 0 wins, 1 ties, 0 losses"))
        #expect(markdown.contains("tpe vs standard-softmax: 0 wins, 1 ties, 0 losses"))
        // Study 1's standard network ends in softmax; the practitioner's has no output activation.
        let softmaxCell = try #require(cells.first { $0.parameters["method"] == "standard-softmax" })
        let plainCell = try #require(cells.first { $0.parameters["method"] == "standard" })
        #expect(softmaxCell.testAccuracy != nil && plainCell.testAccuracy != nil)
        // The winners' functions, counted per layer position: 3 replicates × (random + tpe) = 6 networks.
        let functions = try String(contentsOf: folder.appendingPathComponent("functions.md"), encoding: .utf8)
        #expect(functions.contains("### 2 layers (6 chosen networks)"))
        let usage = try String(contentsOf: folder.appendingPathComponent("functions.csv"), encoding: .utf8)
            .split(separator: "\n").dropFirst().map { Int($0.split(separator: ",").last!)! }
        #expect(usage.reduce(0, +) == 12)  // 6 networks × 2 layer positions
        let report = try String(contentsOf: folder.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(report.contains("Functions the chosen networks use"))
        let csv = try String(contentsOf: folder.appendingPathComponent("table.csv"), encoding: .utf8)
            .split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
        #expect(csv.count == 2)
        let standardColumn = try #require(csv[0].firstIndex(of: "median_test_standard"))
        #expect(Double(csv[1][standardColumn]) == row.medianTest[.standard])
        let latex = try String(contentsOf: folder.appendingPathComponent("table.tex"), encoding: .utf8)
        #expect(latex.hasPrefix("\\begin{tabular}") && latex.contains("blobs & 2 & 3 &"))

        // A re-run finds every cell finished: no evaluator is made, the same table comes out.
        let again = Counter()
        let resumed = try await experiment(folder: folder, counter: again).run()
        #expect(again.count == 0)
        #expect(resumed == table)
    }

    /// `--storage postgresql://…`: the experiment's own study and every search cell's live in the server
    /// (`<experiment>.<cell>`), the tables in the folder; a re-run resumes from the server and trains nothing.
    @Test func anExperimentLivesInPostgreSQLAndResumesFromIt() async throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let name = "exp-" + UUID().uuidString.prefix(8).lowercased()
        let folder = root.appendingPathComponent(name)
        let storage = try StudyStorage(try PostgresTestServer.shared().url)
        let counter = Counter()
        var experiment = try experiment(folder: folder, counter: counter)
        experiment.storage = storage
        let table = try await experiment.run()
        #expect(counter.count == 12)
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("experiment.sqlite").path))
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("studies").path))
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("table.md").path))
        let cells = try storage.openForReading(name).trials()
        #expect(cells.count == 12 && cells.allSatisfy { $0.state == .complete })
        let searches = try storage.summaries().filter { $0.name.hasPrefix(name + ".") }
        #expect(searches.count == 6 && searches.allSatisfy { $0.finishedCount == 3 })

        let again = try await experiment.run()
        #expect(counter.count == 12, "every cell resumed from the server")
        #expect(again.rows.map(\.medianTest) == table.rows.map(\.medianTest))
    }

    @Test func tableMarksAndTallyFollowThePValues() throws {
        var cells: [AlaCarteCellResult] = []
        for r in 0..<8 {
            cells.append(AlaCarteCellResult(dataset: "a_b", layers: 5, replicate: r, method: .standard,
                                            testAccuracy: 0.70 + Double(r) * 0.001, objective: 0, choices: []))
            cells.append(AlaCarteCellResult(dataset: "a_b", layers: 5, replicate: r, method: .tpe,
                                            testAccuracy: 0.90 + Double(r) * 0.001, objective: 0, choices: []))
            cells.append(AlaCarteCellResult(dataset: "a_b", layers: 5, replicate: r, method: .random,
                                            testAccuracy: 0.70 + Double(7 - r) * 0.001, objective: 0, choices: []))
        }
        let table = AlaCarteExperimentTable(cells: cells, methods: [.standard, .random, .tpe])
        let row = table.rows[0]
        // C(16, 8) = 12,870 > 10,000 relabellings: approximate. The median statistic is coarse: many
        // relabellings keep both middles on opposite sides, so even complete separation gives only
        // p = 0.003108 exactly (SciPy's exact permutation_test); the approximate test is within 4 standard errors.
        let p = try #require(row.versusStandard[.tpe]).pValue
        #expect(abs(p - 0.003108003108003108) < 4 * (0.0031 * 0.9969 / 10_000).squareRoot())
        #expect(row.versusStandard[.random]?.pValue ?? 0 > 0.5)
        #expect(table.outcome(row, .tpe) == .win && table.outcome(row, .random) == .tie)
        #expect(table.markdown().contains("| a_b | 5 | 8 | 70.35 | 70.35 | 90.35* |"))
        #expect(table.latex().contains("a\\_b & 5 & 8 & 70.35 & 70.35 & 90.35$^{*}$ \\\\"))
    }

    /// Study 1's standard network (softmax output) is a second baseline: its own marks (†, ‡) and tally.
    @Test func paperStandardIsASecondBaselineWithItsOwnMarks() throws {
        var cells: [AlaCarteCellResult] = []
        for r in 0..<8 {
            func cell(_ method: AlaCarteMethod, _ accuracy: Double) -> AlaCarteCellResult {
                AlaCarteCellResult(dataset: "d", layers: 5, replicate: r, method: method,
                                   testAccuracy: accuracy + Double(r) * 0.001, objective: 0, choices: ["relu"])
            }
            cells += [cell(.standard, 0.80), cell(.standardSoftmax, 0.60), cell(.random, 0.80), cell(.tpe, 0.81)]
        }
        let table = AlaCarteExperimentTable(cells: cells, methods: AlaCarteMethod.allCases)
        let row = table.rows[0]
        // Against study 1's network (20 points lower, separated): significant; against the practitioner's
        // network random search ties exactly (same values).
        #expect(row.versusPaperStandard[.random]!.pValue < 0.05 && row.versusStandard[.random]!.pValue > 0.5)
        #expect(row.versusPaperStandard[.standard] == nil)   // baselines are not tested against each other
        #expect(table.outcome(row, .random, against: .standardSoftmax) == .win)
        #expect(table.outcome(row, .standardSoftmax) == .loss)
        #expect(table.tally(against: .standardSoftmax).map(\.method) == [.random, .tpe])
        #expect(table.tally(against: .standardSoftmax).allSatisfy { $0.wins == 1 })
        let markdown = table.markdown()
        #expect(markdown.contains("| d | 5 | 8 | 80.35 | 60.35* | 80.35† |"))
        #expect(markdown.contains("random vs standard-softmax: 1 wins, 0 ties, 0 losses"))
        #expect(table.latex().contains("80.35$^{\\dagger}$"))
        let header = table.csv().split(separator: "\n")[0].split(separator: ",").map(String.init)
        #expect(header.contains("p_tpe_vs_standard-softmax") && !header.contains("p_standard_vs_standard-softmax"))
    }

    @Test func functionUsageCountsEachLayerPositionOfTheSearchedNetworks() {
        let cells = [
            AlaCarteCellResult(dataset: "a", layers: 2, replicate: 0, method: .tpe, testAccuracy: 0.9, objective: 0,
                               choices: ["tanh(x)", "x"]),
            AlaCarteCellResult(dataset: "b", layers: 2, replicate: 0, method: .tpe, testAccuracy: 0.9, objective: 0,
                               choices: ["tanh(x)", "relu(x)"]),
            AlaCarteCellResult(dataset: "a", layers: 2, replicate: 0, method: .random, testAccuracy: 0.9, objective: 0,
                               choices: ["relu(x)", "x"]),
            AlaCarteCellResult(dataset: "a", layers: 2, replicate: 0, method: .standard, testAccuracy: 0.9, objective: 0,
                               choices: ["relu(x)", "x"]),
        ]
        let usage = AlaCarteFunctionUsage(cells: cells)
        #expect(usage.counts.reduce(0) { $0 + $1.count } == 6)   // the baseline is not counted
        #expect(usage.counts.first { $0.position == 0 && $0.method == .tpe }.map { ($0.function, $0.count) }! == ("tanh(x)", 2))
        let markdown = usage.markdown()
        #expect(markdown.contains("### 2 layers (3 chosen networks)"))
        #expect(markdown.contains("| tanh(x) | 2 |  | 2 |"))
        #expect(markdown.contains("| relu(x) | 1 | 1 | 2 |"))
        #expect(usage.csv().contains("2,0,tpe,tanh(x),2\n"))
    }

    @Test func settingsCarryPatienceAndRejectBadValues() throws {
        var settings = AlaCarteExperimentSettings(datasets: ["d"], layers: [5], replicates: 5, trials: 8, population: 4,
                                                  epochs: 300, patience: 10, menuName: "m", menuEntries: ["relu"])
        #expect(settings.training(layers: 5, replicate: 0).earlyStopPatience == 10)
        try settings.validate()
        settings.patience = 0
        #expect(throws: AlaCarteError.self) { try settings.validate() }
        settings.patience = nil
        #expect(settings.training(layers: 5, replicate: 0).earlyStopPatience == nil)
        settings.methods = [.standard, .tpe, .tpe]
        #expect(throws: AlaCarteError.self) { try settings.validate() }

        // An experiment grows by appending datasets; anything else is another experiment.
        var grown = settings
        grown.datasets = ["d", "e"]
        #expect(grown.extends(settings) && !settings.extends(grown) && !settings.extends(settings))
        grown.datasets = ["e", "d"]
        #expect(!grown.extends(settings))
        grown.datasets = ["d", "e"]
        grown.trials += 1
        #expect(!grown.extends(settings))
    }

    /// `--batch`: every search of the experiment trains with it; an experiment stored before the field existed
    /// reads back as full batch, and another batch size is another experiment.
    @Test func settingsCarryTheBatchSize() throws {
        var settings = AlaCarteExperimentSettings(datasets: ["d"], layers: [5], replicates: 2, trials: 8, population: 4,
                                                  epochs: 30, patience: 10, batchSize: 32, menuName: "m", menuEntries: ["relu"])
        try settings.validate()
        #expect(settings.training(layers: 5, replicate: 1).batchSize == 32)
        var json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(settings)) as! [String: Any]
        json["batchSize"] = nil
        let old = try JSONDecoder().decode(AlaCarteExperimentSettings.self, from: JSONSerialization.data(withJSONObject: json))
        #expect(old.batchSize == nil && old.training(layers: 5, replicate: 1).batchSize == nil)
        var grown = old
        grown.datasets = ["d", "e"]
        #expect(old != settings && !grown.extends(settings))
        settings.batchSize = 0
        #expect(throws: AlaCarteError.self) { try settings.validate() }
    }
}
