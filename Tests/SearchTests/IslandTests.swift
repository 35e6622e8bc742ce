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

        // the report lists the islands and who took how many from whom
        #expect(MigrantSelection.flows(migrants: migrants, immigrations: immigrations)
                == [MigrationFlow(from: "1", to: "0", generation: 1, count: 6)])
        let html = try RunReport.html(store: store)
        #expect(html.contains("<h2>Islands</h2>") && html.contains("<h2>Migrations</h2>"))
        #expect(html.contains("4 barrier(s) passed, 6 individual(s) taken in"))
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

    /// Island 0 alone, with barriers after every generation, is the run without islands: same proposals, same
    /// trial records (but the island tag and the generations' timing), same result.
    @Test(arguments: Backend.allCases)
    func oneIslandIsARunWithoutIslands(backend: Backend) async throws {
        let (storage, study, cleanup) = try backend.storage()
        defer { cleanup() }
        let (plainStorage, plainStudy, cleanupPlain) = try backend.storage()
        defer { cleanupPlain() }
        var plainSettings = settings(every: 1)
        plainSettings.islands = nil
        let plainStore = try plainStorage.open(plainStudy, create: true)
        let plain = try await EvolutionRun(settings: plainSettings, evaluator: syntheticEvaluator(SyntheticFitnessBackend(targets: targets), store: plainStore),
                                           store: plainStore, screen: referenceScreen).run()
        let alone = try await runIsland(0, settings(every: 1), storage: storage, study: study)
        #expect(alone.history.map(\.populations) == plain.history.map(\.populations))
        #expect(alone.best == plain.best && alone.bestFitness == plain.bestFitness)
        #expect(alone.history.dropLast().allSatisfy { $0.migration?.received == 0 && $0.migration?.published == 6 })

        func comparable(_ t: TrialRecord) -> TrialRecord {
            var t = t
            t.island = nil
            t.metrics = t.metrics.filter { !$0.key.hasPrefix("generation_") }
            (t.startedAt, t.finishedAt, t.trainSeconds) = (nil, nil, nil)
            return t
        }
        let islandTrials = try storage.openForReading(study).trials().map(comparable)
        #expect(try plainStore.trials().map(comparable) == islandTrials)
        #expect(try plainStore.trials().allSatisfy { $0.island == nil })
    }

    @Test func islandFlagsAndSettingsGoTogether() throws {
        let evaluator = syntheticEvaluator(SyntheticFitnessBackend(targets: targets))
        let store = try SQLiteStudyStore(inMemoryNamed: "islands")
        #expect(throws: EvolutionError.self) { _ = try EvolutionRun(settings: settings(), evaluator: evaluator, store: store) }
        var plain = settings()
        plain.islands = nil
        #expect(throws: EvolutionError.self) { _ = try EvolutionRun(settings: plain, evaluator: evaluator, store: store, island: 0) }
        #expect(throws: EvolutionError.self) { _ = try EvolutionRun(settings: settings(), evaluator: evaluator, island: 1) }
        #expect(throws: EvolutionError.self) { _ = try EvolutionRun(settings: settings(every: 0), evaluator: evaluator, store: store, island: 0) }
        #expect(IslandSettings.seed(7, island: 0) == 7 && IslandSettings.seed(7, island: 1) != 7)
        #expect(IslandSettings(migrateEvery: 2).migrates(after: 1, of: 6) && !IslandSettings(migrateEvery: 2).migrates(after: 5, of: 6))
    }

    /// The immigration rules, on the algorithms themselves.
    @Test func eachAlgorithmAdmitsMigrantsByItsRule() {
        let representation = TreeRepresentation()
        func scored(_ e: ActivationExpr, _ f: Double) -> ScoredGenome<TreeGenome> { ScoredGenome(genome: TreeGenome(e), fitness: f) }
        var rng = GPRandom(seed: 4)

        // (1+λ) ES: only a strictly fitter migrant replaces the parent
        var es = OnePlusLambda<TreeRepresentation>(lambda: 3)
        _ = es.propose(representation, using: &rng)
        es.accept([0.2, 0.5, 0.1])
        let parent = es.parent!
        #expect(es.fittest(2).map(\.fitness) == [0.5, 0.2])
        #expect(es.immigrate([scored(.unary(.tanh, .x), 0.5)]) == 0 && es.parent == parent)
        #expect(es.immigrate([scored(.unary(.relu, .x), 0.6), scored(.unary(.tanh, .x), 0.9)]) == 1)
        #expect(es.parent == scored(.unary(.tanh, .x), 0.9))

        // GA: migrants replace the worst individuals they beat; a genome already present is not taken twice
        var ga = GenerationalGA<TreeRepresentation>(populationSize: 4, elites: 1)
        let proposed = ga.propose(representation, using: &rng)
        ga.accept([0.3, 0.1, 0.4, 0.1])
        let entered = ga.immigrate([scored(.unary(.relu, .x), 0.2), scored(.unary(.tanh, .x), 0.05),
                                    ScoredGenome(genome: proposed[2], fitness: 0.9)])
        #expect(entered == 1)
        #expect(ga.population.map(\.fitness) == [0.3, 0.1, 0.4, 0.2], "the last of the two worst gave way")
        #expect(ga.immigrate([scored(.unary(.tanh, .x), 0.95)]) == 1 && ga.best?.fitness == 0.95)
        #expect(ga.population.map(\.fitness) == [0.3, 0.95, 0.4, 0.2])

        // random search: a fitter migrant becomes its best
        var random = RandomGenomeSearch<TreeRepresentation>(counts: [2])
        _ = random.propose(representation, using: &rng)
        random.accept([0.4, 0.3])
        #expect(random.immigrate([scored(.x, 0.3)]) == 0 && random.immigrate([scored(.x, 0.7)]) == 1 && random.best?.fitness == 0.7)
    }

    /// Every representation's individuals travel as JSON and come back equal; a migrant that does not fit the
    /// study's representation is refused with its seq and island named.
    @Test func individualsTravelAsJSON() throws {
        for method in [EvolutionMethod.single, .triple, .random] {
            for genome in GenomeKind.allCases {
                let settings = EvolutionSettings(method: method, genome: genome, generations: 2, population: 3, seed: 5)
                let source = try #require(try Species.populations(for: settings).first)
                var rng = GPRandom(seed: 9)
                _ = source.propose(using: &rng)
                source.accept([0.25, 0.75, 0.5])
                let payloads = try source.emigrants(2)
                #expect(payloads.count == (method == .random ? 1 : 2))
                let target = try #require(try Species.populations(for: settings).first)
                _ = target.propose(using: &rng)
                target.accept([0.1, 0.1, 0.1])
                let migrants = payloads.enumerated().map { Migrant(seq: $0.offset, island: "1", generation: 0, population: source.name, payload: $0.element) }
                #expect(try target.immigrate(migrants) >= 1)
                #expect(target.best?.expressions == source.best?.expressions && target.best?.fitness == 0.75)
            }
        }
        let cgp = try #require(try Species.populations(for: EvolutionSettings(method: .single, genome: .cgp)).first)
        let wrong = Migrant(seq: 7, island: "3", generation: 0, population: "single", payload: #"{"genome":{"genes":[1,2]},"fitness":1,"expressions":[]}"#)
        #expect(throws: EvolutionError.self) { _ = try cgp.immigrate([wrong]) }
        let garbled = Migrant(seq: 8, island: "3", generation: 0, population: "single", payload: "{")
        #expect { _ = try cgp.immigrate([garbled]) } throws: { "\($0)".contains("migrant 8 of island 3") }
    }
}
