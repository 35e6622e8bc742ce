import Foundation
import GPUEngine
import Kernels
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

    /// End to end on the real population trainer (OpenCL; PoCL here).
    @Test func tinyExperimentWritesAllThreeTablesAndResumes() async throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let counter = Counter()
        let table = try await experiment(folder: folder, counter: counter).run()
        #expect(counter.count == 9)  // 3 replicates × 3 methods
        #expect(table.rows.count == 1)
        let row = table.rows[0]
        #expect(row.replicates == 3 && row.layers == 2)
        // With 3 + 3 values the test is exact (20 labellings), so p ≥ 0.1: never significant.
        #expect(row.versusStandard[.tpe]?.exact == true)
        #expect(table.tally().allSatisfy { $0.ties == 1 && $0.wins == 0 && $0.losses == 0 })

        // The medians in the table are the medians of the stored per-replicate test accuracies.
        let cells = try SQLiteStudyStore(path: folder.appendingPathComponent("experiment.sqlite").path).trials()
        #expect(cells.count == 9 && cells.allSatisfy { $0.state == .complete })
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
        let table = AlaCarteExperimentTable(cells: cells, methods: AlaCarteMethod.allCases)
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
}
