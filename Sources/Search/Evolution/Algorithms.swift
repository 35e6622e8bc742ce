/// A genome with the fitness it scored.
public struct ScoredGenome<Genome: Hashable & Sendable>: Hashable, Sendable {
    public var genome: Genome
    public var fitness: Double
}

/// An evolutionary algorithm in ask/tell form: it proposes a generation, the caller scores it (possibly
/// together with other populations' individuals, in one batched training), and tells the fitnesses back.
/// Fitness is maximised. The state is rebuilt on resume by replaying the stored fitnesses, so every random
/// draw goes through the generator passed in and nothing depends on hash-table order.
public protocol EvolutionaryAlgorithm {
    associatedtype Representation: GenomeRepresentation
    typealias Genome = Representation.Genome
    /// The best individual so far, the one other populations pair with.
    var best: ScoredGenome<Genome>? { get }
    mutating func propose(_ representation: Representation, using rng: inout GPRandom) -> [Genome]
    /// Fitnesses of the last proposal, in its order.
    mutating func accept(_ fitness: [Double])
    /// The fittest distinct individuals the population holds, best first, at most `count`: an island's emigrants.
    func fittest(_ count: Int) -> [ScoredGenome<Genome>]
    /// Takes other islands' individuals in by the algorithm's rule; returns how many entered the population.
    /// Called between `accept` and the next `propose`; like them it must not depend on hash-table order.
    mutating func immigrate(_ migrants: [ScoredGenome<Genome>]) -> Int
}

extension EvolutionaryAlgorithm {
    /// `candidates` best first (a stable sort: equal fitness keeps their order), each genome once, at most `count`.
    static func distinctFittest(_ candidates: [ScoredGenome<Genome>], _ count: Int) -> [ScoredGenome<Genome>] {
        var seen = Set<Genome>()
        let ranked = candidates.enumerated().sorted { ($0.element.fitness, -$0.offset) > ($1.element.fitness, -$1.offset) }
        return Array(ranked.map(\.element).filter { seen.insert($0.genome).inserted }.prefix(Swift.max(count, 0)))
    }
}

/// Study 2's (1+λ) evolution strategy, maximising (study 2's code minimised an accuracy by mistake).
///
/// Generation 0 draws λ random genomes and keeps the best as the parent. Each later generation proposes λ
/// mutants of the parent; the best of them replaces the parent when it is at least as fit. Accepting
/// equal fitness lets CGP drift across neutral networks of genotypes, which is what makes its (1+λ)
/// strategy work.
public struct OnePlusLambda<Representation: GenomeRepresentation>: EvolutionaryAlgorithm {
    public let lambda: Int
    public private(set) var parent: ScoredGenome<Representation.Genome>?
    private var pending: [Representation.Genome] = []
    /// The last generation's offspring with their fitnesses (emigrants besides the parent).
    private var offspring: [ScoredGenome<Representation.Genome>] = []

    public init(lambda: Int = 4) {
        precondition(lambda >= 1, "λ must be at least 1")
        self.lambda = lambda
    }

    public var best: ScoredGenome<Representation.Genome>? { parent }

    public mutating func propose(_ representation: Representation, using rng: inout GPRandom) -> [Representation.Genome] {
        if let parent {
            pending = (0..<lambda).map { _ in representation.mutate(parent.genome, using: &rng) }
        } else {
            pending = representation.randomGenomes(count: lambda, using: &rng)
        }
        return pending
    }

    public mutating func accept(_ fitness: [Double]) {
        precondition(fitness.count == pending.count, "one fitness per proposed genome")
        guard let top = fitness.indices.max(by: { fitness[$0] < fitness[$1] || (fitness[$0] == fitness[$1] && $0 > $1) })
        else { return }
        if parent == nil || fitness[top] >= parent!.fitness {
            parent = ScoredGenome(genome: pending[top], fitness: fitness[top])
        }
        offspring = zip(pending, fitness).map { ScoredGenome(genome: $0, fitness: $1) }
    }

    /// The parent, then the last offspring by fitness.
    public func fittest(_ count: Int) -> [ScoredGenome<Representation.Genome>] {
        guard let parent else { return [] }
        return Self.distinctFittest([parent] + offspring, count)
    }

    /// Immigration, ES style: the fittest migrant replaces the parent when it is strictly fitter (an equally fit
    /// one leaves the parent and its neutral drift alone).
    public mutating func immigrate(_ migrants: [ScoredGenome<Representation.Genome>]) -> Int {
        guard let top = Self.distinctFittest(migrants, 1).first, parent == nil || top.fitness > parent!.fitness else { return 0 }
        parent = top
        return 1
    }
}

/// A generational genetic algorithm: tournament selection, elitism, subtree crossover (when the
/// representation has one) and mutation. Elites are proposed again each generation; the evaluator's
/// dedup answers them from its cache instead of retraining them.
public struct GenerationalGA<Representation: GenomeRepresentation>: EvolutionaryAlgorithm {
    public let populationSize: Int
    public let tournamentSize: Int
    public let elites: Int
    public let crossoverProbability: Double
    public let mutationProbability: Double
    public private(set) var population: [ScoredGenome<Representation.Genome>] = []
    private var pending: [Representation.Genome] = []
    public private(set) var best: ScoredGenome<Representation.Genome>?

    public init(populationSize: Int, tournamentSize: Int = 3, elites: Int = 1,
                crossoverProbability: Double = 0.7, mutationProbability: Double = 0.5) {
        precondition(populationSize >= 1 && tournamentSize >= 1 && elites >= 0, "GA sizes must be positive")
        self.populationSize = populationSize
        self.tournamentSize = tournamentSize
        self.elites = Swift.min(elites, populationSize)
        self.crossoverProbability = crossoverProbability
        self.mutationProbability = mutationProbability
    }

    private func tournament(using rng: inout GPRandom) -> Representation.Genome {
        var winner = population[Int.random(in: 0..<population.count, using: &rng)]
        for _ in 1..<tournamentSize {
            let rival = population[Int.random(in: 0..<population.count, using: &rng)]
            if rival.fitness > winner.fitness { winner = rival }
        }
        return winner.genome
    }

    public mutating func propose(_ representation: Representation, using rng: inout GPRandom) -> [Representation.Genome] {
        guard !population.isEmpty else {
            pending = representation.randomGenomes(count: populationSize, using: &rng)
            return pending
        }
        // stable sort: equal fitness keeps proposal order, so replays are exact
        let ranked = population.enumerated().sorted { ($0.element.fitness, -$0.offset) > ($1.element.fitness, -$1.offset) }
        var next = ranked.prefix(elites).map(\.element.genome)
        while next.count < populationSize {
            let first = tournament(using: &rng)
            var child = first
            var varied = false
            if Double.random(in: 0..<1, using: &rng) < crossoverProbability {
                let second = tournament(using: &rng)
                if let crossed = representation.crossover(first, second, using: &rng) {
                    child = crossed
                    varied = crossed != first
                }
            }
            // an unvaried copy is always mutated: a GA without crossover (CGP) then still explores
            if !varied || Double.random(in: 0..<1, using: &rng) < mutationProbability {
                child = representation.mutate(child, using: &rng)
            }
            next.append(child)
        }
        pending = next
        return pending
    }

    public mutating func accept(_ fitness: [Double]) {
        precondition(fitness.count == pending.count, "one fitness per proposed genome")
        population = zip(pending, fitness).map { ScoredGenome(genome: $0, fitness: $1) }
        for scored in population where best == nil || scored.fitness > best!.fitness { best = scored }
    }

    public func fittest(_ count: Int) -> [ScoredGenome<Representation.Genome>] {
        Self.distinctFittest(population, count)
    }

    /// Immigration, GA style: migrants, best first, each replace the population's current worst individual (the
    /// last of the least fit) when strictly fitter than it; a genome the population already holds is not taken.
    public mutating func immigrate(_ migrants: [ScoredGenome<Representation.Genome>]) -> Int {
        var entered = 0
        for migrant in Self.distinctFittest(migrants, migrants.count) where !population.contains(where: { $0.genome == migrant.genome }) {
            guard let worst = population.indices.min(by: { population[$0].fitness < population[$1].fitness || (population[$0].fitness == population[$1].fitness && $0 > $1) }),
                  migrant.fitness > population[worst].fitness else { continue }
            population[worst] = migrant
            if best == nil || migrant.fitness > best!.fitness { best = migrant }
            entered += 1
        }
        return entered
    }
}

/// Random search as an algorithm: generation `g` draws `counts[g]` fresh random genomes (the last count
/// repeats past the end); the best ever is kept.
public struct RandomGenomeSearch<Representation: GenomeRepresentation>: EvolutionaryAlgorithm {
    public let counts: [Int]
    private var generation = 0
    private var pending: [Representation.Genome] = []
    public private(set) var best: ScoredGenome<Representation.Genome>?

    public init(counts: [Int]) {
        precondition(!counts.isEmpty && counts.allSatisfy { $0 >= 1 }, "random search needs at least one genome per generation")
        self.counts = counts
    }

    public mutating func propose(_ representation: Representation, using rng: inout GPRandom) -> [Representation.Genome] {
        pending = representation.randomGenomes(count: counts[Swift.min(generation, counts.count - 1)], using: &rng)
        generation += 1
        return pending
    }

    public mutating func accept(_ fitness: [Double]) {
        precondition(fitness.count == pending.count, "one fitness per proposed genome")
        for (genome, value) in zip(pending, fitness) where best == nil || value > best!.fitness {
            best = ScoredGenome(genome: genome, fitness: value)
        }
    }

    public func fittest(_ count: Int) -> [ScoredGenome<Representation.Genome>] {
        best.map { Self.distinctFittest([$0], count) } ?? []
    }

    /// Random search keeps no population: a strictly fitter migrant becomes its best (what it pairs and reports).
    public mutating func immigrate(_ migrants: [ScoredGenome<Representation.Genome>]) -> Int {
        guard let top = Self.distinctFittest(migrants, 1).first, best == nil || top.fitness > best!.fitness else { return 0 }
        best = top
        return 1
    }
}
