import Foundation
import Kernels
import Testing
@testable import Search

@Suite struct TreeGPTests {
    let shape = TreeShape.default

    /// Operations a tree may contain: the primitives' own, and those inside the whole-function primitives.
    var allowedUnary: Set<UnaryOp> {
        var ops = Set(shape.primitives.unary)
        for f in shape.primitives.functions { f.visit { if case .unary(let op, _) = $0 { ops.insert(op) } } }
        return ops
    }
    var allowedBinary: Set<BinaryOp> {
        var ops = Set(shape.primitives.binary)
        for f in shape.primitives.functions { f.visit { if case .binary(let op, _, _) = $0 { ops.insert(op) } } }
        return ops
    }

    func isValidTree(_ e: ActivationExpr) -> Bool {
        guard ExpressionTree.isElementwise(e), shape.fits(e) else { return false }
        let unary = allowedUnary, binary = allowedBinary
        var ok = true
        e.visit { node in
            switch node {
            case .unary(let op, _): ok = ok && unary.contains(op)
            case .binary(let op, _, _): ok = ok && binary.contains(op)
            case .constant(let c): ok = ok && (shape.constantRange.contains(c) || shape.primitives.constants.contains(c))
            default: break
            }
        }
        // and prints and parses back to itself
        return ok && (try? ActivationExpr.parse(e.description)) == e
    }

    @Test func rampedHalfAndHalfCoversTheDepthsWithinLimits() {
        var rng = GPRandom(seed: 1)
        let trees = TreeOperators.rampedHalfAndHalf(shape, count: 80, using: &rng)
        #expect(trees.allSatisfy(isValidTree))
        #expect(trees.allSatisfy(ExpressionTree.dependsOnX))
        let depths = Set(trees.map(\.depth))
        #expect(depths.count >= 3)
        #expect(Set(trees).count > 60)
    }

    @Test func operatorsRespectDepthAndSizeLimits() {
        var small = shape
        small.maxDepth = 4
        small.maxSize = 9
        small.initialDepths = 2...4
        var rng = GPRandom(seed: 2)
        var population = TreeOperators.rampedHalfAndHalf(small, count: 30, using: &rng)
        for _ in 0..<40 {
            population = population.indices.map { i in
                let a = population[i], b = population[(i * 7 + 3) % population.count]
                switch i % 4 {
                case 0: return TreeOperators.crossover(a, b, small, using: &rng)
                case 1: return TreeOperators.pointMutation(a, small, using: &rng)
                case 2: return TreeOperators.subtreeMutation(a, small, using: &rng)
                default: return TreeOperators.hoistMutation(a, using: &rng)
                }
            }
            for tree in population {
                #expect(tree.depth <= 4)
                #expect(tree.size <= 9)
                #expect((try? ActivationExpr.parse(tree.description)) == tree)
            }
        }
    }

    @Test func hoistReturnsAProperSubtreeAndPointKeepsShape() {
        var rng = GPRandom(seed: 4)
        let tree = ActivationExpr.binary(.mul, .x, .unary(.tanh, .binary(.add, .x, .constant(1))))
        for _ in 0..<50 {
            let hoisted = TreeOperators.hoistMutation(tree, using: &rng)
            #expect(hoisted.size < tree.size)
            #expect((0..<tree.size).contains { ExpressionTree.subtree(tree, at: $0).0 == hoisted })
            let pointed = TreeOperators.pointMutation(tree, shape, using: &rng)
            #expect(pointed.size == tree.size)
            #expect(pointed.depth == tree.depth)
        }
    }

    @Test func subtreeAddressingRoundTrips() {
        let tree = ActivationExpr.binary(.add, .unary(.relu, .x), .binary(.mul, .x, .constant(2)))
        #expect(ExpressionTree.subtree(tree, at: 0).0 == tree)
        #expect(ExpressionTree.subtree(tree, at: 2).0 == .x)
        #expect(ExpressionTree.subtree(tree, at: 3).0 == .binary(.mul, .x, .constant(2)))
        #expect(ExpressionTree.subtree(tree, at: 5).level == 2)
        #expect(ExpressionTree.replacing(tree, at: 4, with: .unary(.tanh, .x))
                == .binary(.add, .unary(.relu, .x), .binary(.mul, .unary(.tanh, .x), .constant(2))))
    }

    @Test func genomesSurviveTheCheckpointEncoding() throws {
        var rng = GPRandom(seed: 9)
        for tree in TreeOperators.rampedHalfAndHalf(shape, count: 30, using: &rng) {
            let data = try JSONEncoder().encode(TreeGenome(tree))
            #expect(try JSONDecoder().decode(TreeGenome.self, from: data).expression == tree)
        }
    }

    @Test func primitiveSetsAreTheExpressionLanguagesMenus() {
        let paper2 = PrimitiveSet.paper2
        #expect(Set(paper2.unary) == [.tanh, .relu, .leakyRelu, .elu, .hardshrink, .celu, .hardtanh, .hardswish, .softshrink, .rrelu])
        #expect(Set(paper2.binary) == [.max, .min, .add, .sub, .mul])
        #expect(paper2.functions.isEmpty && paper2.constants.isEmpty)
        let tree = PrimitiveSet.treeDefault
        #expect(tree.functions.contains(.binary(.mul, .x, .unary(.sigmoid, .x))))
        #expect(tree.constants.contains(0.5))
        // a whole-function primitive applies by substitution: swish(relu(x)) = relu(x)·σ(relu(x))
        let swish = tree.unary.count + tree.functions.firstIndex(of: .binary(.mul, .x, .unary(.sigmoid, .x)))!
        #expect(tree.apply(swish, .unary(.relu, .x), .x) == .binary(.mul, .unary(.relu, .x), .unary(.sigmoid, .unary(.relu, .x))))
    }

    @Test func screenRejectsNonFiniteAndLayerwiseExpressions() {
        let screen = ExpressionScreen { e, x in e.evaluate(x) }
        #expect(screen.rejection(.unary(.relu, .x)) == nil)
        #expect(screen.rejection(.unary(.exp, .unary(.exp, .x))) != nil)  // inf at x = 10
        #expect(screen.rejection(.unary(.log, .x)) != nil)                 // NaN for x < 0
        #expect(screen.rejection(.layerwise(.softmax)) != nil)
    }
}
