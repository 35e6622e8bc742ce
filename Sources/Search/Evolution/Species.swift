import Foundation
import Kernels

/// One evolving population seen from the run: it proposes individuals as expression lists (one expression
/// for a plain genome, three for a triple), takes their fitnesses back, and knows its best.
/// Type-erases the algorithm and representation so one run can drive any mix of them.
final class Species {
    let name: String
    private let proposeBody: (inout GPRandom) -> [[ActivationExpr]]
    private let acceptBody: ([Double]) -> Void
    private let bestBody: () -> (expressions: [ActivationExpr], fitness: Double)?
    private let emigrantsBody: (Int) throws -> [String]
    private let immigrateBody: ([Migrant]) throws -> Int

    init<A: EvolutionaryAlgorithm>(name: String, algorithm: A, representation: A.Representation) {
        self.name = name
        let box = AlgorithmBox(algorithm)
        proposeBody = { rng in
            box.algorithm.propose(representation, using: &rng).map { representation.expressions($0) }
        }
        acceptBody = { box.algorithm.accept($0) }
        bestBody = {
            box.algorithm.best.map { (representation.expressions($0.genome), $0.fitness) }
        }
        emigrantsBody = { count in
            try box.algorithm.fittest(count).map { try MigrantPayload(genome: $0.genome, fitness: $0.fitness, representation: representation).json() }
        }
        immigrateBody = { migrants in
            let scored = try migrants.map { migrant -> ScoredGenome<A.Genome> in
                let payload = try MigrantPayload<A.Genome>.decode(migrant)
                guard representation.accepts(payload.genome) else {
                    throw EvolutionError.corruptCheckpoint(
                        "migrant \(migrant.seq) of island \(migrant.island) (\(migrant.population)) does not fit this study's representation")
                }
                return ScoredGenome(genome: payload.genome, fitness: payload.fitness)
            }
            return box.algorithm.immigrate(scored)
        }
    }

    func propose(using rng: inout GPRandom) -> [[ActivationExpr]] { proposeBody(&rng) }
    func accept(_ fitness: [Double]) { acceptBody(fitness) }
    var best: (expressions: [ActivationExpr], fitness: Double)? { bestBody() }
    /// The population's fittest `count` individuals as migrant payloads (JSON of `MigrantPayload`).
    func emigrants(_ count: Int) throws -> [String] { try emigrantsBody(count) }
    /// Takes in migrants of this population (same name, same representation); returns how many entered.
    func immigrate(_ migrants: [Migrant]) throws -> Int { try immigrateBody(migrants) }

    /// The populations a method evolves, with the algorithm and representation the settings ask for.
    static func populations(for settings: EvolutionSettings) throws -> [Species] {
        switch settings.genome {
        case .cgp:
            return try populations(settings, base: CGPRepresentation(shape: settings.cgpShape(), mutateInactive: settings.mutateInactive))
        case .tree:
            return try populations(settings, base: TreeRepresentation(shape: settings.treeShape()))
        }
    }

    private static func populations<R: GenomeRepresentation>(_ settings: EvolutionSettings, base: R) -> [Species] {
        switch settings.method {
        case .standard:
            return []
        case .random:
            var matched = settings
            matched.method = .coevo
            return [Species(name: "random", algorithm: RandomGenomeSearch<SlotTripleRepresentation<R>>(
                counts: (0..<settings.generations).map { matched.networks(inGeneration: $0) }),
                            representation: SlotTripleRepresentation(base))]
        case .single:
            return [species("single", settings, base)]
        case .triple:
            return [species("triple", settings, SlotTripleRepresentation(base))]
        case .coevo:
            return EvolutionSettings.slotNames.map { species($0, settings, base) }
        }
    }

    private static func species<R: GenomeRepresentation>(_ name: String, _ settings: EvolutionSettings, _ representation: R) -> Species {
        switch settings.algorithm {
        case .es:
            return Species(name: name, algorithm: OnePlusLambda<R>(lambda: settings.population), representation: representation)
        case .ga:
            return Species(name: name, algorithm: GenerationalGA<R>(
                populationSize: settings.population, tournamentSize: settings.tournamentSize, elites: settings.elites,
                crossoverProbability: settings.crossoverProbability, mutationProbability: settings.mutationProbability),
                representation: representation)
        }
    }
}

/// Holds an algorithm's mutable state for the closures of `Species`.
private final class AlgorithmBox<A: EvolutionaryAlgorithm> {
    var algorithm: A
    init(_ algorithm: A) { self.algorithm = algorithm }
}

/// An individual as it travels between islands: its genome (the representation's own `Codable` form: CGP genes,
/// tree tokens, or three of either for a triple), the fitness it scored on its island, and its expressions in
/// print (for people reading the `migrant` table; the genome is what is read back).
struct MigrantPayload<Genome: Codable>: Codable {
    var genome: Genome
    var fitness: Double
    var expressions: [String]

    init<R: GenomeRepresentation>(genome: Genome, fitness: Double, representation: R) where R.Genome == Genome {
        self.genome = genome
        self.fitness = fitness.isFinite ? fitness : 0
        expressions = representation.expressions(genome).map(ExpressionText.render)
    }

    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    static func decode(_ migrant: Migrant) throws -> MigrantPayload {
        do {
            return try JSONDecoder().decode(MigrantPayload.self, from: Data(migrant.payload.utf8))
        } catch {
            throw EvolutionError.corruptCheckpoint(
                "migrant \(migrant.seq) of island \(migrant.island) (\(migrant.population)): \(JSONFileProblem.describe(error)); "
                + "expected an individual of this study's representation")
        }
    }
}
