import Foundation
import Kernels

/// Settings of tree GP (Koza-style): the primitives, ramped half-and-half initial depths, the depth and
/// size limits every operator respects, and ephemeral random constants. Depths count nodes, as
/// `ActivationExpr.depth` does: `x` has depth 1, `relu(x)` depth 2.
public struct TreeShape: Sendable, Hashable {
    public var primitives: PrimitiveSet
    /// Initial trees have depths `initialDepths` (ramped half-and-half).
    public var initialDepths: ClosedRange<Int>
    public var maxDepth: Int
    public var maxSize: Int
    /// Probability that a new leaf is an ephemeral constant rather than `x`; 0 disables constants.
    public var constantProbability: Double
    /// Ephemeral constants are drawn uniformly from this range and rounded to two decimals, so that the
    /// printed formula is the function that was trained.
    public var constantRange: ClosedRange<Double>

    public static let `default` = TreeShape(
        primitives: .treeDefault, initialDepths: 2...5, maxDepth: 7, maxSize: 24,
        constantProbability: 0.2, constantRange: -2...2)

    public init(primitives: PrimitiveSet, initialDepths: ClosedRange<Int>, maxDepth: Int, maxSize: Int,
                constantProbability: Double, constantRange: ClosedRange<Double>) {
        self.primitives = primitives
        self.initialDepths = initialDepths
        self.maxDepth = maxDepth
        self.maxSize = maxSize
        self.constantProbability = constantProbability
        self.constantRange = constantRange
    }

    public func validate() throws {
        guard initialDepths.lowerBound >= 1, initialDepths.upperBound <= maxDepth else {
            throw EvolutionError.invalidSetting("tree GP initial depths \(initialDepths) must lie within 1...\(maxDepth) (the depth limit)")
        }
        guard maxSize >= 1 else { throw EvolutionError.invalidSetting("tree GP size limit must be at least 1, got \(maxSize)") }
        guard (0...1).contains(constantProbability) else {
            throw EvolutionError.invalidSetting("tree GP constant probability must lie in [0, 1], got \(constantProbability)")
        }
    }

    func fits(_ e: ActivationExpr) -> Bool {
        ExpressionTree.depth(e) <= maxDepth && ExpressionTree.size(e) <= maxSize
    }
}

/// Tree GP's operators over `ActivationExpr` trees. Every operator returns a tree within the depth and
/// size limits: an offspring that would break them is redrawn a few times and otherwise the parent is
/// returned unchanged (the standard Koza fallback).
public enum TreeOperators {
    static let attempts = 8

    /// `x`, or with probability `constantProbability` a constant: one of the menu's constants or a fresh
    /// ephemeral one, evenly.
    public static func leaf<R: RandomNumberGenerator>(_ shape: TreeShape, using rng: inout R) -> ActivationExpr {
        if shape.constantProbability > 0, Double.random(in: 0..<1, using: &rng) < shape.constantProbability {
            let menuConstants = shape.primitives.constants
            if !menuConstants.isEmpty, Bool.random(using: &rng) {
                return .constant(menuConstants[Int.random(in: 0..<menuConstants.count, using: &rng)])
            }
            return .constant(ephemeralConstant(shape, using: &rng))
        }
        return .x
    }

    static func ephemeralConstant<R: RandomNumberGenerator>(_ shape: TreeShape, using rng: inout R) -> Double {
        let value = (Double.random(in: shape.constantRange, using: &rng) * 100).rounded() / 100
        return value == 0 ? 0 : value  // no negative zero in formulas
    }

    /// A random tree of depth at most `depth` (in nodes) by "full" (every branch reaches `depth`) or
    /// "grow" (branches may stop early).
    public static func tree<R: RandomNumberGenerator>(_ shape: TreeShape, depth: Int, full: Bool, using rng: inout R) -> ActivationExpr {
        let p = shape.primitives
        if depth <= 1 { return leaf(shape, using: &rng) }
        let functionCount = p.functionCount
        // grow: a leaf with probability (terminals / (terminals + functions)), terminals being x and constants
        let terminalKinds = shape.constantProbability > 0 ? 2 : 1
        if !full, Int.random(in: 0..<(functionCount + terminalKinds), using: &rng) < terminalKinds {
            return leaf(shape, using: &rng)
        }
        let f = Int.random(in: 0..<functionCount, using: &rng)
        let a = tree(shape, depth: depth - 1, full: full, using: &rng)
        if p.arity(ofFunction: f) == 1 { return p.apply(f, a, a) }
        let b = tree(shape, depth: depth - 1, full: full, using: &rng)
        return p.apply(f, a, b)
    }

    /// Ramped half-and-half: depths cycle through `initialDepths`, half full and half grow; trees that
    /// break the size limit or do not use `x` are redrawn.
    public static func rampedHalfAndHalf<R: RandomNumberGenerator>(_ shape: TreeShape, count: Int, using rng: inout R) -> [ActivationExpr] {
        let depths = Array(shape.initialDepths)
        return (0..<count).map { i in
            let depth = depths[i % depths.count]
            let full = (i / depths.count) % 2 == 0
            for _ in 0..<(attempts * 4) {
                let candidate = tree(shape, depth: depth, full: full, using: &rng)
                if shape.fits(candidate), ExpressionTree.dependsOnX(candidate) { return candidate }
            }
            return .unary(shape.primitives.unary.first ?? .relu, .x)
        }
    }

    /// Subtree crossover: a random subtree of `a` replaced by a random subtree of `b`.
    public static func crossover<R: RandomNumberGenerator>(_ a: ActivationExpr, _ b: ActivationExpr, _ shape: TreeShape, using rng: inout R) -> ActivationExpr {
        let sizeA = ExpressionTree.size(a), sizeB = ExpressionTree.size(b)
        for _ in 0..<attempts {
            let donor = ExpressionTree.subtree(b, at: Int.random(in: 0..<sizeB, using: &rng)).0
            let child = ExpressionTree.replacing(a, at: Int.random(in: 0..<sizeA, using: &rng), with: donor)
            if shape.fits(child) { return child }
        }
        return a
    }

    /// Point mutation: one node replaced by another of the same arity (a constant is redrawn, `x` may
    /// become a constant and back); the rest of the tree is kept.
    public static func pointMutation<R: RandomNumberGenerator>(_ e: ActivationExpr, _ shape: TreeShape, using rng: inout R) -> ActivationExpr {
        let index = Int.random(in: 0..<ExpressionTree.size(e), using: &rng)
        let node = ExpressionTree.subtree(e, at: index).0
        let p = shape.primitives
        let replacement: ActivationExpr
        switch node {
        case .unary(let op, let a):
            let others = p.unary.filter { $0 != op }
            guard let new = others.randomElement(using: &rng) else { return e }
            replacement = .unary(new, a)
        case .binary(let op, let a, let b):
            let others = p.binary.filter { $0 != op }
            guard let new = others.randomElement(using: &rng) else { return e }
            replacement = .binary(new, a, b)
        case .x:
            guard shape.constantProbability > 0 else { return e }
            replacement = .constant(ephemeralConstant(shape, using: &rng))
        case .constant:
            replacement = Bool.random(using: &rng) ? .x : .constant(ephemeralConstant(shape, using: &rng))
        case .parameter, .layerwise:
            return e
        }
        return ExpressionTree.replacing(e, at: index, with: replacement)
    }

    /// Subtree mutation: a random subtree replaced by a new "grow" tree that keeps the result in limits.
    public static func subtreeMutation<R: RandomNumberGenerator>(_ e: ActivationExpr, _ shape: TreeShape, using rng: inout R) -> ActivationExpr {
        let size = ExpressionTree.size(e)
        for _ in 0..<attempts {
            let index = Int.random(in: 0..<size, using: &rng)
            let level = ExpressionTree.subtree(e, at: index).level
            let room = Swift.max(1, Swift.min(shape.maxDepth - level, shape.initialDepths.upperBound))
            let fresh = tree(shape, depth: Int.random(in: 1...room, using: &rng), full: false, using: &rng)
            let child = ExpressionTree.replacing(e, at: index, with: fresh)
            if shape.fits(child) { return child }
        }
        return e
    }

    /// Hoist mutation: a random subtree becomes the whole tree (it only ever shrinks, a bloat control).
    public static func hoistMutation<R: RandomNumberGenerator>(_ e: ActivationExpr, using rng: inout R) -> ActivationExpr {
        let size = ExpressionTree.size(e)
        guard size > 1 else { return e }
        return ExpressionTree.subtree(e, at: Int.random(in: 1..<size, using: &rng)).0
    }

    /// One of point, subtree or hoist mutation, chosen with probabilities 0.4, 0.4, 0.2. Returns a tree
    /// different from `e` whenever the operators can produce one within a few tries.
    public static func mutate<R: RandomNumberGenerator>(_ e: ActivationExpr, _ shape: TreeShape, using rng: inout R) -> ActivationExpr {
        for _ in 0..<attempts {
            let u = Double.random(in: 0..<1, using: &rng)
            let child = u < 0.4 ? pointMutation(e, shape, using: &rng)
                : u < 0.8 ? subtreeMutation(e, shape, using: &rng)
                : hoistMutation(e, using: &rng)
            if child != e, shape.fits(child) { return child }
        }
        return e
    }
}
