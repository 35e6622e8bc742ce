import Foundation
import Kernels

/// What an evolutionary algorithm needs from a genome representation: random genomes, variation, and
/// the expression(s) a genome stands for. Genomes are `Codable` so a run can checkpoint and resume.
public protocol GenomeRepresentation: Sendable {
    associatedtype Genome: Codable & Hashable & Sendable
    func randomGenomes<R: RandomNumberGenerator>(count: Int, using rng: inout R) -> [Genome]
    func mutate<R: RandomNumberGenerator>(_ genome: Genome, using rng: inout R) -> Genome
    /// `nil` when the representation has no crossover (CGP); the GA then mutates only.
    func crossover<R: RandomNumberGenerator>(_ a: Genome, _ b: Genome, using rng: inout R) -> Genome?
    /// One expression per AF slot the genome fills (one for a plain genome, three for a triple).
    func expressions(_ genome: Genome) -> [ActivationExpr]
    /// Whether a genome read back from outside (another island's migrant) fits this representation.
    func accepts(_ genome: Genome) -> Bool
}

/// Study 2's representation: a CGP grid decoded to its active expression.
public struct CGPRepresentation: GenomeRepresentation {
    public var shape: CGPShape
    public var mutateInactive: Bool

    public init(shape: CGPShape = .paper2, mutateInactive: Bool = false) {
        self.shape = shape
        self.mutateInactive = mutateInactive
    }

    public func randomGenomes<R: RandomNumberGenerator>(count: Int, using rng: inout R) -> [CGPGenome] {
        (0..<count).map { _ in CGPGenome.random(shape, using: &rng) }
    }

    public func mutate<R: RandomNumberGenerator>(_ genome: CGPGenome, using rng: inout R) -> CGPGenome {
        genome.mutated(shape, mutateInactive: mutateInactive, using: &rng)
    }

    public func crossover<R: RandomNumberGenerator>(_ a: CGPGenome, _ b: CGPGenome, using rng: inout R) -> CGPGenome? { nil }

    public func expressions(_ genome: CGPGenome) -> [ActivationExpr] { [genome.decode(shape)] }

    public func accepts(_ genome: CGPGenome) -> Bool { shape.isValid(genome.genes) }
}

/// A tree-GP genome: the expression itself, stored in checkpoints as pre-order tokens.
public struct TreeGenome: Hashable, Sendable, Codable {
    public var expression: ActivationExpr

    public init(_ expression: ActivationExpr) { self.expression = expression }

    public init(from decoder: Decoder) throws {
        let tokens = try decoder.singleValueContainer().decode([String].self)
        var position = 0
        func read() throws -> ActivationExpr {
            guard position < tokens.count else { throw EvolutionError.corruptCheckpoint("tree genome ends early: \(tokens)") }
            let token = tokens[position]
            position += 1
            if token == "x" { return .x }
            let parts = token.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw EvolutionError.corruptCheckpoint("bad tree token '\(token)'") }
            switch parts[0] {
            case "c":
                guard let value = Double(parts[1]) else { throw EvolutionError.corruptCheckpoint("bad constant '\(token)'") }
                return .constant(value)
            case "u":
                guard let op = UnaryOp(rawValue: parts[1]) else { throw EvolutionError.corruptCheckpoint("unknown unary '\(token)'") }
                return .unary(op, try read())
            case "b":
                guard let op = BinaryOp(rawValue: parts[1]) else { throw EvolutionError.corruptCheckpoint("unknown binary '\(token)'") }
                let a = try read()
                return .binary(op, a, try read())
            default:
                throw EvolutionError.corruptCheckpoint("bad tree token '\(token)'")
            }
        }
        expression = try read()
        guard position == tokens.count else { throw EvolutionError.corruptCheckpoint("trailing tree tokens: \(tokens)") }
    }

    public func encode(to encoder: Encoder) throws {
        var tokens: [String] = []
        func write(_ e: ActivationExpr) {
            switch e {
            case .x: tokens.append("x")
            case .constant(let c): tokens.append("c:\(c)")
            case .unary(let op, let a): tokens.append("u:\(op.rawValue)"); write(a)
            case .binary(let op, let a, let b): tokens.append("b:\(op.rawValue)"); write(a); write(b)
            case .parameter, .layerwise: preconditionFailure("tree genomes are element-wise")
            }
        }
        write(expression)
        var container = encoder.singleValueContainer()
        try container.encode(tokens)
    }
}

/// Tree GP over the `default` primitives.
public struct TreeRepresentation: GenomeRepresentation {
    public var shape: TreeShape

    public init(shape: TreeShape = .default) { self.shape = shape }

    public func randomGenomes<R: RandomNumberGenerator>(count: Int, using rng: inout R) -> [TreeGenome] {
        TreeOperators.rampedHalfAndHalf(shape, count: count, using: &rng).map(TreeGenome.init)
    }

    public func mutate<R: RandomNumberGenerator>(_ genome: TreeGenome, using rng: inout R) -> TreeGenome {
        TreeGenome(TreeOperators.mutate(genome.expression, shape, using: &rng))
    }

    public func crossover<R: RandomNumberGenerator>(_ a: TreeGenome, _ b: TreeGenome, using rng: inout R) -> TreeGenome? {
        TreeGenome(TreeOperators.crossover(a.expression, b.expression, shape, using: &rng))
    }

    public func expressions(_ genome: TreeGenome) -> [ActivationExpr] { [genome.expression] }

    public func accepts(_ genome: TreeGenome) -> Bool {
        shape.fits(genome.expression) && ExpressionTree.isElementwise(genome.expression)
    }
}

/// Evo-Triple's genome: three genomes of the base representation, one per slot (input, hidden, output),
/// evolved as one individual. Mutation changes one slot; crossover takes each slot from the first parent or
/// crosses it with the second's (tree GP) or takes the second's (CGP, which has no crossover of its own).
public struct SlotTripleRepresentation<Base: GenomeRepresentation>: GenomeRepresentation {
    public var base: Base

    public init(_ base: Base) { self.base = base }

    public func randomGenomes<R: RandomNumberGenerator>(count: Int, using rng: inout R) -> [[Base.Genome]] {
        let flat = base.randomGenomes(count: count * 3, using: &rng)
        return (0..<count).map { Array(flat[($0 * 3)..<($0 * 3 + 3)]) }
    }

    public func mutate<R: RandomNumberGenerator>(_ genome: [Base.Genome], using rng: inout R) -> [Base.Genome] {
        var child = genome
        let slot = Int.random(in: 0..<child.count, using: &rng)
        child[slot] = base.mutate(child[slot], using: &rng)
        return child
    }

    public func crossover<R: RandomNumberGenerator>(_ a: [Base.Genome], _ b: [Base.Genome], using rng: inout R) -> [Base.Genome]? {
        var child = a
        for slot in child.indices where Bool.random(using: &rng) {
            child[slot] = base.crossover(a[slot], b[slot], using: &rng) ?? b[slot]
        }
        return child
    }

    public func expressions(_ genome: [Base.Genome]) -> [ActivationExpr] { genome.flatMap(base.expressions) }

    public func accepts(_ genome: [Base.Genome]) -> Bool { genome.count == 3 && genome.allSatisfy(base.accepts) }
}
