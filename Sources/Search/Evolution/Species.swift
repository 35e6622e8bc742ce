import Kernels

/// One evolving population seen from the run: it proposes individuals as expression lists (one expression
/// for a plain genome, three for a triple), takes their fitnesses back, and knows its best.
/// Type-erases the algorithm and representation so one run can drive any mix of them.
final class Species {
    let name: String
    private let proposeBody: (inout GPRandom) -> [[ActivationExpr]]
    private let acceptBody: ([Double]) -> Void
    private let bestBody: () -> (expressions: [ActivationExpr], fitness: Double)?

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
    }

    func propose(using rng: inout GPRandom) -> [[ActivationExpr]] { proposeBody(&rng) }
    func accept(_ fitness: [Double]) { acceptBody(fitness) }
    var best: (expressions: [ActivationExpr], fitness: Double)? { bestBody() }

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
