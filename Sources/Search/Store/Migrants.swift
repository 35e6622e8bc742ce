import Foundation

/// An individual an island published at a migration barrier (a row of `migrant`).
public struct Migrant: Sendable, Codable, Equatable {
    /// The study's publication order; an island's record of what it took in names these.
    public var seq: Int
    /// The island that published it.
    public var island: String
    /// The generation after which it left.
    public var generation: Int
    /// The population it belongs to (`single`, `triple`, `random`, or a coevolving stage: `input`, ...).
    public var population: String
    /// The individual as JSON (`MigrantPayload`): genome, fitness, expressions.
    public var payload: String

    public init(seq: Int, island: String, generation: Int, population: String, payload: String) {
        self.seq = seq
        self.island = island
        self.generation = generation
        self.population = population
        self.payload = payload
    }
}

/// A migrant before the store numbers it.
public struct OutgoingMigrant: Sendable, Equatable {
    public var population: String
    public var payload: String

    public init(population: String, payload: String) {
        self.population = population
        self.payload = payload
    }
}

/// One barrier an island passed: the migrants (seqs) it took in after `generation` (possibly none).
public struct Immigration: Sendable, Codable, Equatable {
    public var island: String
    public var generation: Int
    public var migrants: [Int]

    public init(island: String, generation: Int, migrants: [Int]) {
        self.island = island
        self.generation = generation
        self.migrants = migrants
    }

    /// The migrant seqs of an immigration row's `migrants` column (a JSON array), as both stores write it.
    static func seqs(from json: String) throws -> [Int] { try JSONDecoder().decode([Int].self, from: Data(json.utf8)) }
}

/// Which migrants an island takes in at a barrier: of every other island and population, that island's newest
/// batch (the migrants of its latest barrier), unless this island took that batch in already. Older batches
/// are never taken: they are superseded, and a slow island does not flood a fast one with stale individuals.
/// Both stores run this rule on the rows they read inside the barrier's transaction.
public enum MigrantSelection {
    /// `newestBatches`: each other island's migrants of its latest generation per population, in seq order;
    /// `consumed`: the seqs `island` took in before.
    static func incoming(newestBatches: [Migrant], island: String, consumed: Set<Int>) -> [Migrant] {
        newestBatches.filter { $0.island != island && !consumed.contains($0.seq) }.sorted { $0.seq < $1.seq }
    }

    /// The migrants `seqs` names, in that order (a replayed barrier).
    static func recorded(_ seqs: [Int], among migrants: [Migrant]) -> [Migrant] {
        let bySeq = Dictionary(migrants.map { ($0.seq, $0) }, uniquingKeysWith: { first, _ in first })
        return seqs.compactMap { bySeq[$0] }
    }

    /// What happened in a study's migrations, for `show` and `report`: per receiving island and barrier, how
    /// many individuals came from which island.
    public static func flows(migrants: [Migrant], immigrations: [Immigration]) -> [MigrationFlow] {
        let sourceOf = Dictionary(migrants.map { ($0.seq, $0.island) }, uniquingKeysWith: { first, _ in first })
        var flows: [MigrationFlow] = []
        for immigration in immigrations {
            var counts: [String: Int] = [:]
            for seq in immigration.migrants { counts[sourceOf[seq] ?? "?", default: 0] += 1 }
            for (source, count) in counts.sorted(by: { $0.key < $1.key }) {
                flows.append(MigrationFlow(from: source, to: immigration.island, generation: immigration.generation, count: count))
            }
        }
        return flows.sorted { ($0.generation, $0.to, $0.from) < ($1.generation, $1.to, $1.from) }
    }
}

/// `count` individuals of island `from` taken in by island `to` after its generation `generation` (0-based, as
/// stored; `show` and the report print it 1-based, as the progress lines count generations).
public struct MigrationFlow: Sendable, Codable, Equatable {
    public var from: String
    public var to: String
    public var generation: Int
    public var count: Int
}

/// An island as the study records it: its trials' best objective and how many generations it committed.
public struct IslandSummary: Sendable, Codable, Equatable {
    public var island: String
    public var generations: Int
    public var trials: Int
    public var bestObjective: Double?

    /// One summary per island of `trials` (those with an island tag), ordered by island name (numerically when
    /// names are numbers).
    public static func of(_ trials: [TrialRecord]) -> [IslandSummary] {
        var byIsland: [String: [TrialRecord]] = [:]
        for trial in trials { if let island = trial.island { byIsland[island, default: []].append(trial) } }
        return byIsland.map { island, trials in
            IslandSummary(island: island, generations: Set(trials.map(\.group)).count, trials: trials.count,
                          bestObjective: trials.filter { $0.state.isFinished }.compactMap(\.objective).max())
        }.sorted { a, b in
            if let x = Int(a.island), let y = Int(b.island) { return x < y }
            return a.island < b.island
        }
    }
}
