import Foundation
import Kernels
import Testing
@testable import Search

/// Island evolution: several runs on one study (SQLite file or PostgreSQL), each its own populations, exchanging
/// their fittest through the study's `migrant` table. Small coevolutions on the synthetic fitness: each test takes
/// well under a second of evolution.
@Suite struct IslandTests {
    let targets: [ActivationExpr] = [
        .binary(.mul, .x, .unary(.tanh, .x)),
        .unary(.hardtanh, .x),
        .binary(.max, .x, .unary(.tanh, .x)),
    ]

    func settings(generations: Int = 6, every: Int = 2, migrants: Int = 2, seed: UInt64 = 3) -> EvolutionSettings {
        var settings = EvolutionSettings(method: .coevo, genome: .cgp, generations: generations, population: 4, seed: seed)
        settings.islands = IslandSettings(migrateEvery: every, migrants: migrants)
        return settings
    }

    /// One island's run on a fresh handle of the study (as its own process would open it).
    func runIsland(_ island: Int, _ settings: EvolutionSettings, storage: StudyStorage, study: String,
                   backend: SyntheticFitnessBackend? = nil) async throws -> EvolutionResult {
        let store = try storage.open(study, create: true)
        let trainer = backend ?? SyntheticFitnessBackend(targets: targets)
        return try await EvolutionRun(settings: settings, evaluator: syntheticEvaluator(trainer, store: store), store: store,
                                      screen: referenceScreen, island: island).run()
    }

    /// Island 1 evolves first; island 0 then meets its newest batch at its first barrier and takes it in: the
    /// migrant rows, the record of what island 0 took, and the immigrant's expression in island 0's later networks.
    @Test(arguments: Backend.allCases)
    func anIslandTakesInAnotherIslandsNewestMigrants(backend: Backend) async throws {
        let (storage, study, cleanup) = try backend.storage()
        defer { cleanup() }
        let settings = settings()
        let first = try await runIsland(1, settings, storage: storage, study: study)
        let second = try await runIsland(0, settings, storage: storage, study: study)
        let store = try storage.openForReading(study)

        // every island published each population's 2 fittest after generations 1 and 3 (never after its last)
        let migrants = try store.migrants()
        for island in ["0", "1"] {
            let mine = migrants.filter { $0.island == island }
            #expect(Set(mine.map(\.generation)) == [1, 3])
            #expect(mine.count == 2 * 3 * 2)
            #expect(Set(mine.map(\.population)) == ["input", "hidden", "output"])
        }
        // island 1 found nobody; island 0 took island 1's newest batch (after its generation 3) once
        let immigrations = try store.immigrations()
        #expect(immigrations.map { "\($0.island)@\($0.generation)" } == ["0@1", "0@3", "1@1", "1@3"])
        let taken = immigrations[0].migrants
        #expect(taken.count == 6)
        #expect(taken.allSatisfy { seq in migrants.contains { $0.seq == seq && $0.island == "1" && $0.generation == 3 } })
        #expect(immigrations[1].migrants.isEmpty && immigrations[2].migrants.isEmpty && immigrations[3].migrants.isEmpty)
        #expect(second.history[1].migration == MigrationRecord(published: 6, received: 6, admitted: second.history[1].migration!.admitted, sources: ["1"]))
        #expect(first.history[1].migration?.received == 0)

        // island 1 ended fitter than island 0 was after 2 generations: its migrants became island 0's parents,
        // and as partners their expressions fill the other slots of island 0's next networks
        let admitted = try #require(second.history[1].migration?.admitted)
        #expect(admitted >= 1)
        let trials = try store.trials()
        let island0Gen2 = trials.filter { $0.island == "0" && $0.group == "gen-2" }
        let immigrantExpressions = Set(migrants.filter { taken.contains($0.seq) }.compactMap { migrant -> String? in
            try? JSONDecoder().decode(MigrantPayload<CGPGenome>.self, from: Data(migrant.payload.utf8)).expressions.first
        })
        #expect(island0Gen2.contains { trial in trial.expressions.contains(where: immigrantExpressions.contains) })
        let island1Expressions = Set(trials.filter { $0.island == "1" }.flatMap(\.expressions))
        let island0Before = Set(trials.filter { $0.island == "0" && ["gen-0", "gen-1"].contains($0.group) }.flatMap(\.expressions))
        #expect(!island0Gen2.flatMap(\.expressions).filter { island1Expressions.contains($0) && !island0Before.contains($0) }.isEmpty)

        // both islands' trials: unique numbers, each island tagged, six generations each
        #expect(Set(trials.map(\.number)).count == trials.count)
        #expect(trials.count == first.networksEvaluated + second.networksEvaluated)
        #expect(IslandSummary.of(trials).map { [$0.island, String($0.generations)] } == [["0", "6"], ["1", "6"]])
    }

    /// Two islands at once, a barrier after every generation: whatever they happened to exchange, each island
    /// run again on the finished study replays exactly its history (every migrant it took is recorded).
    @Test(arguments: Backend.allCases)
    func concurrentIslandsExchangeAndReplayExactly(backend: Backend) async throws {
        let (storage, study, cleanup) = try backend.storage()
        defer { cleanup() }
        let settings = settings(generations: 5, every: 1, migrants: 1, seed: 8)
        async let a = runIsland(0, settings, storage: storage, study: study)
        async let b = runIsland(1, settings, storage: storage, study: study)
        let (resultA, resultB) = try await (a, b)
        let store = try storage.openForReading(study)
        #expect(try store.immigrations().count == 2 * 4)
        #expect(try store.migrants().count == 2 * 4 * 3)
        let trials = try store.trials()
        #expect(Set(trials.map(\.number)).count == trials.count)
        #expect(Set(trials.compactMap(\.island)) == ["0", "1"])

        for (island, original) in [(0, resultA), (1, resultB)] {
            let survivor = SyntheticFitnessBackend(targets: targets)
            let replayed = try await runIsland(island, settings, storage: storage, study: study, backend: survivor)
            #expect(replayed.history.allSatisfy { $0.replayed })
            #expect(survivor.trained.isEmpty)
            #expect(replayed.history.map(\.populations) == original.history.map(\.populations))
            #expect(replayed.history.map(\.migration) == original.history.map(\.migration))
            #expect(replayed.best == original.best && replayed.bestFitness == original.bestFitness)
        }
        #expect(try store.trials().count == trials.count, "a replay stores nothing again")
    }

    /// Killed in generation 4 after its barrier of generation 3; meanwhile another island publishes fitter migrants.
    /// The resumed island replays the migrants it took before the kill, not the newest, and ends exactly as an
    /// island that was never killed.
    @Test(arguments: Backend.allCases)
    func aKilledIslandReplaysTheMigrantsItTook(backend: Backend) async throws {
        let settings = settings()
        let (referenceStorage, referenceStudy, cleanupReference) = try backend.storage()
        defer { cleanupReference() }
        _ = try await runIsland(1, settings, storage: referenceStorage, study: referenceStudy)
        let reference = try await runIsland(0, settings, storage: referenceStorage, study: referenceStudy)

        let (storage, study, cleanup) = try backend.storage()
        defer { cleanup() }
        _ = try await runIsland(1, settings, storage: storage, study: study)
        let dying = SyntheticFitnessBackend(targets: targets, failOnCall: 5)
        await #expect(throws: SyntheticFitnessBackend.SimulatedKill.self) {
            _ = try await runIsland(0, settings, storage: storage, study: study, backend: dying)
        }
        let store = try storage.open(study, create: false)
        #expect(try store.immigrations().filter { $0.island == "0" }.map(\.generation) == [1, 3])
        #expect(Set(try store.trials(states: nil, group: nil, island: "0").map(\.group)) == ["gen-0", "gen-1", "gen-2", "gen-3"])
        // meanwhile a third island publishes a perfect-looking individual: newer than anything island 0 took
        let sample = try #require(try store.migrants().first { $0.population == "hidden" })
        var perfect = try MigrantPayload<CGPGenome>.decode(sample)
        perfect.fitness = 1
        let thirdTook = try store.exchangeMigrants(island: "2", generation: 5, outgoing: [
            OutgoingMigrant(population: "hidden", payload: try perfect.json())])
        #expect(thirdTook.count == 12, "island 2 takes the newest batches of islands 0 and 1")

        let resumed = try await runIsland(0, settings, storage: storage, study: study)
        #expect(resumed.history.map(\.replayed) == [true, true, true, true, false, false])
        #expect(resumed.history.map(\.populations) == reference.history.map(\.populations))
        #expect(resumed.history.map(\.migration) == reference.history.map(\.migration))
        #expect(resumed.best == reference.best && resumed.bestFitness == reference.bestFitness)
    }
}
