import Foundation
import Kernels

/// Study 2's five methods.
public enum EvolutionMethod: String, CaseIterable, Codable, Sendable {
    /// No search: the standard activation (ReLU, or LeakyReLU) in every slot.
    case standard
    /// Random expressions, one per slot, with as many evaluations as coevolution gets.
    case random
    /// Evo-Single: one evolved function used in all three slots.
    case single
    /// Evo-Triple: one evolution whose individual holds three functions, one placed in each slot.
    case triple
    /// Coevo: three populations (input, hidden, output stage) evolved together.
    case coevo

    public var displayName: String {
        switch self {
        case .standard: return "Standard"
        case .random: return "Random"
        case .single: return "Evo-Single"
        case .triple: return "Evo-Triple"
        case .coevo: return "Coevo"
        }
    }
}

public enum GenomeKind: String, CaseIterable, Codable, Sendable { case cgp, tree }

public enum AlgorithmKind: String, CaseIterable, Codable, Sendable {
    /// (1+λ) evolution strategy (study 2's).
    case es
    /// Generational GA with tournament selection and elitism.
    case ga
}

public enum CoevolutionSchedule: String, CaseIterable, Codable, Sendable {
    /// All three populations every generation, their networks trained as one batched population.
    case simultaneous
    /// Study 2's variant: the input population for the first third of the generations, then hidden, then
    /// output, the others held at their best (ReLU before they have evolved).
    case sequential
}

/// Everything that determines an evolution's proposals. Stored with the study; a resumed run must ask for
/// the same settings, since it replays the stored generations from the seed.
public struct EvolutionSettings: Codable, Sendable, Hashable {
    public var method: EvolutionMethod
    public var genome: GenomeKind
    public var algorithm: AlgorithmKind
    public var generations: Int
    /// λ for the (1+λ) ES, the population size for the GA and per generation for random search; each
    /// coevolving population has this many individuals.
    public var population: Int
    public var seed: UInt64
    /// Coevolution: extra networks per individual with random partners from the other populations;
    /// an individual's fitness is its best network's.
    public var randomPartners: Int
    public var schedule: CoevolutionSchedule
    /// The activation of the Standard method, and of a not-yet-evolved stage in the sequential schedule.
    public var standardActivation: String
    // CGP
    public var cgpRows: Int
    public var cgpColumns: Int
    public var cgpLevelsBack: Int
    public var cgpConstants: [Double]
    public var mutateInactive: Bool
    /// Primitive names; empty means the representation's default (`paper2` for CGP, `default` for trees).
    public var primitives: [String]
    // tree GP
    public var treeMaxDepth: Int
    public var treeMaxSize: Int
    public var treeConstantProbability: Double
    // GA
    public var tournamentSize: Int
    public var elites: Int
    public var crossoverProbability: Double
    public var mutationProbability: Double
    /// Island evolution (`--island`): set for every island of the study, nil for a run without islands (whose
    /// stored settings then read exactly as before islands existed).
    public var islands: IslandSettings? = nil

    public static let slotNames = ["input", "hidden", "output"]

    public init(method: EvolutionMethod = .coevo, genome: GenomeKind = .cgp, algorithm: AlgorithmKind? = nil,
                generations: Int = 5, population: Int = 4, seed: UInt64 = 1, randomPartners: Int = 0,
                schedule: CoevolutionSchedule = .simultaneous, standardActivation: String = "relu") {
        self.method = method
        self.genome = genome
        self.algorithm = algorithm ?? (genome == .cgp ? .es : .ga)
        self.generations = generations
        self.population = population
        self.seed = seed
        self.randomPartners = randomPartners
        self.schedule = schedule
        self.standardActivation = standardActivation
        cgpRows = CGPShape.paper2.rows
        cgpColumns = CGPShape.paper2.columns
        cgpLevelsBack = CGPShape.paper2.levelsBack
        cgpConstants = []
        mutateInactive = false
        primitives = []
        treeMaxDepth = TreeShape.default.maxDepth
        treeMaxSize = TreeShape.default.maxSize
        treeConstantProbability = TreeShape.default.constantProbability
        tournamentSize = 3
        elites = 1
        crossoverProbability = 0.7
        mutationProbability = 0.5
    }

    public func primitiveSet() throws -> PrimitiveSet {
        if primitives.isEmpty { return genome == .cgp ? .paper2 : .treeDefault }
        return try PrimitiveSet(names: primitives)
    }

    public func cgpShape() throws -> CGPShape {
        let shape = CGPShape(rows: cgpRows, columns: cgpColumns, levelsBack: cgpLevelsBack,
                             primitives: try primitiveSet(), constants: cgpConstants)
        try shape.validate()
        return shape
    }

    public func treeShape() throws -> TreeShape {
        var shape = TreeShape.default
        shape.primitives = try primitiveSet()
        shape.maxDepth = treeMaxDepth
        shape.maxSize = treeMaxSize
        shape.initialDepths = Swift.min(2, treeMaxDepth)...Swift.max(1, Swift.min(TreeShape.default.initialDepths.upperBound, treeMaxDepth))
        shape.constantProbability = treeConstantProbability
        try shape.validate()
        return shape
    }

    /// The standard activation as an expression (`relu` or `leaky_relu`, any unary primitive name).
    public func standardExpression() throws -> ActivationExpr {
        guard let op = UnaryOp(rawValue: standardActivation) else {
            throw EvolutionError.invalidSetting("standard activation '\(standardActivation)' is not a unary function name (e.g. relu, leaky_relu)")
        }
        return .unary(op, .x)
    }

    public func validate() throws {
        guard generations >= 1 else { throw EvolutionError.invalidSetting("--generations must be at least 1, got \(generations)") }
        guard population >= 1 else { throw EvolutionError.invalidSetting("--population must be at least 1, got \(population)") }
        guard randomPartners >= 0 else { throw EvolutionError.invalidSetting("--partners must be ≥ 0, got \(randomPartners)") }
        guard tournamentSize >= 1, elites >= 0, elites < Swift.max(population, 2) else {
            throw EvolutionError.invalidSetting("GA needs tournament ≥ 1 and 0 ≤ elites < population (got \(tournamentSize), \(elites), \(population))")
        }
        guard (0...1).contains(crossoverProbability), (0...1).contains(mutationProbability) else {
            throw EvolutionError.invalidSetting("GA probabilities must lie in [0, 1]")
        }
        _ = try standardExpression()
        try islands?.validate()
        switch genome {
        case .cgp: _ = try cgpShape()
        case .tree: _ = try treeShape()
        }
    }

    /// Networks proposed in generation `generation` (before dedup). Random search is given exactly what
    /// coevolution gets, so the two compare at an equal number of evaluations.
    public func networks(inGeneration generation: Int) -> Int {
        switch method {
        case .standard: return 1
        case .single, .triple: return population
        case .random, .coevo:
            let perIndividual = 1 + randomPartners
            if schedule == .sequential { return population }
            if generation == 0 { return population * perIndividual }
            return 3 * population * perIndividual
        }
    }
}

/// How the islands of a study exchange individuals. Every island of a study runs with the same settings (they are
/// the study's); an island's number (`EvolutionRun.island`) is not a setting.
public struct IslandSettings: Codable, Sendable, Hashable {
    /// An island passes a migration barrier after every `migrateEvery`-th generation (not after its last).
    public var migrateEvery: Int
    /// Individuals each population publishes per barrier (its fittest distinct ones).
    public var migrants: Int

    public init(migrateEvery: Int = 5, migrants: Int = 1) {
        self.migrateEvery = migrateEvery
        self.migrants = migrants
    }

    public func validate() throws {
        guard migrateEvery >= 1 else { throw EvolutionError.invalidSetting("--migrate-every must be at least 1, got \(migrateEvery)") }
        guard migrants >= 1 else { throw EvolutionError.invalidSetting("--migrants must be at least 1, got \(migrants)") }
    }

    /// Whether an island passes a barrier after `generation` (0-based) of a run of `generations`.
    public func migrates(after generation: Int, of generations: Int) -> Bool {
        (generation + 1) % migrateEvery == 0 && generation + 1 < generations
    }

    /// The seed of island `island`'s proposals: island 0 draws from the study's seed itself (so a one-island study
    /// proposes exactly what a run without islands does), island k from a stream derived from it.
    public static func seed(_ seed: UInt64, island: Int) -> UInt64 {
        island == 0 ? seed : SeededGenerator.derive(seed, UInt64(island))
    }
}
