import Foundation
import Kernels

/// Drives one evolution (any of the five methods): each generation the populations propose, their
/// individuals are put into networks (three slots: input, hidden, output), ALL the generation's networks
/// are scored as one batch by the `CandidateEvaluator` (dedup, one batched population on the device), the
/// fitnesses go back to the populations, and the generation's trials are committed to the study store in
/// one transaction.
///
/// Resume: the store is the checkpoint. Proposals depend only on the seed and on earlier fitnesses, so a
/// resumed run replays the stored generations (their fitnesses read back, nothing retrained) and goes on
/// where the killed one stopped; at most the generation in flight is redone.
///
/// Islands (`island` set, `settings.islands` set): several runs, in as many processes or machines, share one
/// study, each evolving its own populations from its own seed (`IslandSettings.seed`). Its trials carry its
/// number (`TrialRecord.island`) and numbers reserved from the study's counter, so islands never clash or
/// delete each other's work. After every `migrateEvery`-th generation an island passes a barrier
/// (`StudyStore.exchangeMigrants`, EvolutionRun+Islands.swift): it publishes each population's fittest and
/// takes in the other islands' newest, which its populations admit by their algorithm's rule. The store
/// records what it took, so a resumed island replays exactly those migrants, not whatever is newest now.
public final class EvolutionRun {
    public let settings: EvolutionSettings
    /// This run's island (0, 1, ...), nil for a run without islands.
    public let island: Int?
    let evaluator: any CandidateEvaluator
    let store: (any StudyStore)?
    let screen: ExpressionScreen?
    /// Cumulative seconds the trainer has spent building programs, when the caller can tell
    /// (used to split a generation's evaluation time into compile and train).
    let compileClock: (@Sendable () async -> Double)?

    public internal(set) var history: [GenerationRecord] = []
    public internal(set) var best: ScoredNetwork?
    var species: [Species] = []
    var rng: GPRandom
    var nextTrialNumber = 0
    /// The trial that trained each function key, so a duplicate names it.
    var trainedTrialOfKey: [String: Int] = [:]
    var totals = (networks: 0, trained: 0, duplicates: 0, rejected: 0)

    public init(settings: EvolutionSettings, evaluator: any CandidateEvaluator, store: (any StudyStore)? = nil,
                screen: ExpressionScreen? = nil, compileClock: (@Sendable () async -> Double)? = nil, island: Int? = nil) throws {
        try settings.validate()
        guard (island == nil) == (settings.islands == nil) else {
            throw EvolutionError.invalidSetting(island == nil
                ? "the settings name islands (migration every \(settings.islands!.migrateEvery) generations) but no island number was given (--island)"
                : "island \(island!) needs the islands' migration settings (--migrate-every, --migrants)")
        }
        if let island {
            guard island >= 0 else { throw EvolutionError.invalidSetting("--island must be 0 or more, got \(island)") }
            guard store != nil else { throw EvolutionError.invalidSetting("islands meet in a study's storage; island \(island) has none") }
        }
        self.settings = settings
        self.island = island
        self.evaluator = evaluator
        self.store = store
        self.screen = screen
        self.compileClock = compileClock
        rng = GPRandom(seed: Self.proposalSeed(settings, island: island))
    }

    /// The seed of this run's proposals (the island's own stream under islands).
    static func proposalSeed(_ settings: EvolutionSettings, island: Int?) -> UInt64 {
        island.map { IslandSettings.seed(settings.seed, island: $0) } ?? settings.seed
    }

    /// The island's name in the store (`trial.island`, `migrant.island`).
    var islandName: String? { island.map(String.init) }

    static let studyKind = "evolution"

    /// Runs (or resumes) every generation; `progress` is called after each one, replayed ones included.
    public func run(progress: ((GenerationRecord) -> Void)? = nil) async throws -> EvolutionResult {
        try prepareStore()
        species = try Species.populations(for: settings)
        rng = GPRandom(seed: Self.proposalSeed(settings, island: island))
        history = []
        best = nil
        let generations = settings.method == .standard ? 1 : settings.generations
        for generation in 0..<generations {
            var record = try await runGeneration(generation)
            if let islands = settings.islands, islands.migrates(after: generation, of: generations) {
                record.migration = try migrate(after: generation, islands)
            }
            history.append(record)
            progress?(record)
        }
        return result()
    }

    func prepareStore() throws {
        guard let store else { return }
        if let stored = try store.settings(as: EvolutionSettings.self) {
            // More generations continue a run (the stored ones replay, the new ones follow), as more trials
            // continue an à la carte study; the sequential schedule's stages depend on the total, so not there.
            var extended = stored
            extended.generations = settings.generations
            if stored != settings, extended == settings, settings.generations > stored.generations, settings.schedule != .sequential {
                try store.writeSettings(settings, kind: Self.studyKind)
            } else if stored != settings {
                throw EvolutionError.resumeMismatch("study '\(store.studyName)' was run with other settings (\(Self.difference(stored, settings))); use another --study name or the same flags")
            }
        } else {
            try store.writeSettings(settings, kind: Self.studyKind)
        }
        try store.discardUnfinished(island: islandName)
        nextTrialNumber = try store.nextTrialNumber()
    }

    static func difference(_ a: EvolutionSettings, _ b: EvolutionSettings) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        guard let da = try? encoder.encode(a), let db = try? encoder.encode(b),
              let ja = try? JSONSerialization.jsonObject(with: da) as? [String: Any],
              let jb = try? JSONSerialization.jsonObject(with: db) as? [String: Any] else { return "settings differ" }
        let keys = ja.keys.sorted().filter { "\(ja[$0]!)" != "\(jb[$0] ?? "")" }
        return keys.map { "\($0): stored \(ja[$0]!), now \(jb[$0] ?? "none")" }.joined(separator: "; ")
    }

    /// A network to score and the individuals it credits: (population index, individual index).
    struct PlannedNetwork {
        var expressions: [ActivationExpr]
        var credits: [(population: Int, individual: Int)]
    }

    /// The populations that evolve in `generation` (all, or one under the sequential schedule).
    func activePopulations(in generation: Int) -> [Int] {
        guard settings.method == .coevo, settings.schedule == .sequential else { return Array(species.indices) }
        return [Swift.min(2, generation * 3 / Swift.max(settings.generations, 1))]
    }

    func plan(_ generation: Int) throws -> (networks: [PlannedNetwork], proposals: [Int: [[ActivationExpr]]]) {
        let standard = try settings.standardExpression()
        if settings.method == .standard {
            return ([PlannedNetwork(expressions: [standard, standard, standard], credits: [])], [:])
        }
        let active = activePopulations(in: generation)
        var proposals: [Int: [[ActivationExpr]]] = [:]
        for s in active { proposals[s] = species[s].propose(using: &rng) }
        var networks: [PlannedNetwork] = []
        switch settings.method {
        case .standard:
            break
        case .single:
            for (i, individual) in proposals[0]!.enumerated() {
                let e = individual[0]
                networks.append(PlannedNetwork(expressions: [e, e, e], credits: [(0, i)]))
            }
        case .triple, .random:
            for (i, individual) in proposals[0]!.enumerated() {
                networks.append(PlannedNetwork(expressions: individual, credits: [(0, i)]))
            }
        case .coevo:
            let partnerBest = species.map { $0.best?.expressions[0] ?? standard }
            let simultaneous = settings.schedule == .simultaneous
            if simultaneous && species.allSatisfy({ $0.best == nil }) {
                // No bests yet: individual i of each population forms network i; k more rounds of
                // randomly permuted partners.
                let n = proposals[0]!.count
                for round in 0...settings.randomPartners {
                    let orders: [[Int]] = (0..<3).map { s in
                        round == 0 || s == 0 ? Array(0..<n) : Array(0..<n).shuffled(using: &rng)
                    }
                    for i in 0..<n {
                        let picks = (0..<3).map { orders[$0][i] }
                        networks.append(PlannedNetwork(expressions: (0..<3).map { proposals[$0]![picks[$0]][0] },
                                                       credits: (0..<3).map { ($0, picks[$0]) }))
                    }
                }
            } else {
                for s in active {
                    for (i, individual) in proposals[s]!.enumerated() {
                        var slots = partnerBest
                        slots[s] = individual[0]
                        networks.append(PlannedNetwork(expressions: slots, credits: [(s, i)]))
                        guard simultaneous else { continue }
                        for _ in 0..<settings.randomPartners {
                            var mixed = slots
                            for t in 0..<3 where t != s {
                                let pool = proposals[t]!
                                mixed[t] = pool[Int.random(in: 0..<pool.count, using: &rng)][0]
                            }
                            networks.append(PlannedNetwork(expressions: mixed, credits: [(s, i)]))
                        }
                    }
                }
            }
        }
        return (networks, proposals)
    }
}
