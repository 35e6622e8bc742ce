import Foundation
import Testing
@testable import Search

/// Continuing an evolution with more generations (as an à la carte study continues with more trials), and
/// study 2's 80/20 Train1/Train2 ratio when the row caps ask for more rows than the data has.
@Suite struct EvolutionResumeTests {
    @Test func moreGenerationsContinueTheStoredRun() async throws {
        let csv = try ExperimentEvolutionTests.blobsCSV()
        defer { try? FileManager.default.removeItem(at: csv.deletingLastPathComponent()) }
        let store = try SQLiteStudyStore(inMemoryNamed: "grow")
        let recipe = ExperimentEvolutionTests.recipe(csv)
        let backend = Study2TrainingBackend.reference(network: ExperimentEvolutionTests.network)
        var settings = EvolutionSettings(method: .coevo, genome: .cgp, generations: 1, population: 2, seed: 4)
        let first = try await EvolutionJob(settings: settings, recipe: recipe, backend: backend, store: store, folder: nil).run()
        #expect(first.history.count == 1)

        settings.generations = 2
        let second = try await EvolutionJob(settings: settings, recipe: recipe, backend: backend, store: store, folder: nil).run()
        #expect(second.history.count == 2)
        #expect(second.history[0].replayed)
        #expect(!second.history[1].replayed)

        // Other settings are still refused, naming what differs.
        settings.population = 3
        await #expect(throws: EvolutionError.self) {
            _ = try await EvolutionJob(settings: settings, recipe: recipe, backend: backend, store: store, folder: nil).run()
        }
    }

    @Test func rowCapsLargerThanTheDataKeepTheirRatio() throws {
        let csv = try ExperimentEvolutionTests.blobsCSV()
        defer { try? FileManager.default.removeItem(at: csv.deletingLastPathComponent()) }
        var recipe = ExperimentEvolutionTests.recipe(csv)
        recipe.train1Rows = 4000
        recipe.train2Rows = 1000
        let data = try recipe.load()
        let train1 = Double(data.search.train.rowCount), train2 = Double(data.search.validation.rowCount)
        #expect(abs(train1 / (train1 + train2) - 0.8) < 0.02, "Train1 \(train1), Train2 \(train2)")

        // Caps that fit the data are taken as given.
        recipe.train1Rows = 120
        recipe.train2Rows = 60
        let fitted = try recipe.load()
        #expect(abs(fitted.search.train.rowCount - 120) <= 3)
        #expect(abs(fitted.search.validation.rowCount - 60) <= 3)
    }
}
