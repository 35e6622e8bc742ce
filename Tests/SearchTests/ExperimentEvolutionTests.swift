import Datasets
import Foundation
import Kernels
import TestSupport
import Testing
@testable import Search

/// End to end on a tiny dataset the test writes itself (three Gaussian blobs as CSV), with study 2's
/// whole protocol and the plain Swift reference trainer: split, evolve, retrain, test, files.
@Suite(.serialized) struct ExperimentEvolutionTests {
    static func blobsCSV() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("afsearch-evo-e2e-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var rng = GPRandom(seed: 99)
        var lines = ["a,b,c,d,label"]
        let centres: [[Double]] = [[2, 0, 0, 1], [-2, 1, 0, 0], [0, -2, 2, -1]]
        for i in 0..<300 {
            let label = i % 3
            let row = centres[label].map { $0 + Double.random(in: -1...1, using: &rng) }
            lines.append(row.map { String(format: "%.4f", $0) }.joined(separator: ",") + ",\(label)")
        }
        let url = folder.appendingPathComponent("blobs.csv")
        try lines.joined(separator: "\n").write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    static let network = Study2FCN(width: 6, hiddenLayers: 1)

    static func recipe(_ csv: URL) -> Study2Recipe {
        Study2Recipe(dataset: csv.path, network: network, epochs: 2, learningRate: 0.01, batchFraction: 0.25,
                     finalEpochs: 4, train1Rows: 120, train2Rows: 60, testRows: 60, dataSeed: 3)
    }

    @Test func evolveRetrainsTheBestAndWritesTheRunFolder() async throws {
        let csv = try Self.blobsCSV()
        defer { try? FileManager.default.removeItem(at: csv.deletingLastPathComponent()) }
        let folder = csv.deletingLastPathComponent().appendingPathComponent("run")
        let store = try SQLiteStudyStore(path: folder.appendingPathComponent("study.sqlite").path, studyName: "run")
        let settings = EvolutionSettings(method: .coevo, genome: .cgp, generations: 2, population: 2, seed: 4)
        let job = EvolutionJob(settings: settings, recipe: Self.recipe(csv), backend: .reference(network: Self.network),
                               store: store, folder: folder)
        let result = try await job.run()
        #expect(result.history.count == 2)
        #expect(result.best.expressions.count == 3)
        let test = try #require(result.finalTest)
        #expect(test.epochs == 4)               // scored at the last of the final epochs
        #expect(test.testAccuracy > 0.5)        // three separable blobs: far above chance (1/3)
        #expect(result.standardTest != nil)
        #expect(try store.trials().count == result.networksEvaluated)
        #expect(try store.trial(number: result.bestTrialNumber!)?.testAccuracy == test.testAccuracy)
        let html = try String(contentsOf: folder.appendingPathComponent("report.html"), encoding: .utf8)
        #expect(html.contains("<svg"))
        #expect(try EvolutionResult.read(from: folder).best == result.best)
    }

    @Test func experimentWritesTheFiveMethodTableInThreeFormats() async throws {
        let csv = try Self.blobsCSV()
        defer { try? FileManager.default.removeItem(at: csv.deletingLastPathComponent()) }
        let folder = csv.deletingLastPathComponent().appendingPathComponent("experiment")
        var base = EvolutionSettings(method: .coevo, genome: .cgp, generations: 1, population: 2, seed: 1)
        base.standardActivation = "relu"
        let experiment = EvolutionExperiment(
            datasets: [csv.path], methods: [.standard, .random, .coevo], replicates: 2, base: base,
            recipe: Self.recipe(csv), folder: folder, permutationRounds: 200) { .reference(network: $0) }
        var cells: [String] = []
        let result = try await experiment.run(cellStarted: { cells.append($0) })
        #expect(cells.count == 6)
        #expect(result.summaries.count == 3)
        for summary in result.summaries {
            #expect(summary.testAccuracies.count == 2)
            #expect(summary.functions.count == 2)
            #expect((summary.pValueVersusStandard == nil) == (summary.method == .standard))
        }
        let markdown = try String(contentsOf: folder.appendingPathComponent("experiment-evolution.md"), encoding: .utf8)
        #expect(markdown.contains("Standard mean") && markdown.contains("Coevo median") && markdown.contains("Random"))
        let csvTable = try String(contentsOf: folder.appendingPathComponent("experiment-evolution.csv"), encoding: .utf8)
        #expect(csvTable.split(separator: "\n").count == 4)
        let latex = try String(contentsOf: folder.appendingPathComponent("experiment-evolution.tex"), encoding: .utf8)
        #expect(latex.contains("\\begin{tabular}") && latex.contains("Coevo"))
        // standard's mean is what the table prints
        let standard = result.summary(csv.path, .standard)!
        #expect(markdown.contains(String(format: "%.2f", standard.mean * 100)))

        // a second run finds every cell done and retrains nothing
        let rerun = try await experiment.run()
        #expect(rerun.summaries.map(\.testAccuracies) == result.summaries.map(\.testAccuracies))
    }

    /// `storage`: every cell's study lives in the PostgreSQL server as `<experiment>.<cell>`, with its trials;
    /// no study file is written into the cell folders.
    @Test func experimentCellsLiveInPostgreSQL() async throws {
        let csv = try Self.blobsCSV()
        defer { try? FileManager.default.removeItem(at: csv.deletingLastPathComponent()) }
        let name = "evo-exp-" + UUID().uuidString.prefix(8).lowercased()
        let folder = csv.deletingLastPathComponent().appendingPathComponent(name)
        let base = EvolutionSettings(method: .coevo, genome: .cgp, generations: 1, population: 2, seed: 1)
        var experiment = EvolutionExperiment(
            datasets: [csv.path], methods: [.standard, .coevo], replicates: 1, base: base,
            recipe: Self.recipe(csv), folder: folder, permutationRounds: 50) { .reference(network: $0) }
        let storage = try StudyStorage(try PostgresTestServer.shared().url)
        experiment.storage = storage
        let result = try await experiment.run()
        let cells = try storage.summaries().filter { $0.name.hasPrefix(name + ".") }
        #expect(cells.count == 2 && cells.allSatisfy { $0.trialCount > 0 }, "\(cells.map(\.name))")
        let coevo = try #require(result.summary(csv.path, .coevo))
        #expect(coevo.testAccuracies.count == 1)
        let files = FileManager.default.enumerator(atPath: folder.path)?.compactMap { $0 as? String } ?? []
        #expect(!files.contains { $0.hasSuffix(StudyCatalog.databaseFileName) }, "\(files)")
    }

    /// Equal budgets: Evo-Single and Evo-Triple propose as many networks per generation as coevolution's
    /// three populations together (after its first generation); `--budget paper` keeps study 2's sizes.
    @Test func equalBudgetScalesTheSinglePopulationMethods() throws {
        let base = EvolutionSettings(method: .coevo, genome: .cgp, generations: 3, population: 4, seed: 1)
        var experiment = EvolutionExperiment(datasets: ["x"], replicates: 2, base: base,
                                             recipe: Self.recipe(URL(fileURLWithPath: "/x.csv")),
                                             folder: URL(fileURLWithPath: "/tmp")) { .reference(network: $0) }
        var coevo = base
        coevo.method = .coevo
        let perGeneration = coevo.networks(inGeneration: 1)
        #expect(perGeneration > base.population)
        for method in [EvolutionMethod.single, .triple] {
            #expect(experiment.settings(for: method, replicate: 1).population == perGeneration)
            #expect(experiment.settings(for: method, replicate: 1).seed == base.seed + 1)
            #expect(experiment.budget(of: method) == 3 * perGeneration)
        }
        #expect(experiment.budget(of: .random) == experiment.budget(of: .coevo))
        #expect(experiment.budget(of: .coevo) == coevo.networks(inGeneration: 0) + 2 * perGeneration)
        experiment.equalBudget = false
        #expect(experiment.settings(for: .single, replicate: 0).population == base.population)
    }
}
