import Kernels

/// Tree-GP views of an `ActivationExpr`: node counts, depth, and addressing nodes by their pre-order index
/// (the root is 0, then the first operand's subtree, then the second's).
///
enum ExpressionTree {
    static func size(_ e: ActivationExpr) -> Int { e.size }

    /// Depth in nodes, as `ActivationExpr.depth` counts it: `x` is 1, `relu(x)` is 2.
    static func depth(_ e: ActivationExpr) -> Int { e.depth }

    /// The subtree rooted at pre-order index `index`, and how many nodes lie above it (0 for the root).
    static func subtree(_ e: ActivationExpr, at index: Int) -> (ActivationExpr, level: Int) {
        var remaining = index
        var level = 0
        var node = e
        while remaining > 0 {
            remaining -= 1
            level += 1
            switch node {
            case .unary(_, let a):
                node = a
            case .binary(_, let a, let b):
                let leftSize = size(a)
                if remaining < leftSize { node = a } else { remaining -= leftSize; node = b }
            default:
                preconditionFailure("pre-order index \(index) past the end of the expression")
            }
        }
        return (node, level)
    }

    /// `e` with the subtree at pre-order index `index` replaced by `replacement`.
    static func replacing(_ e: ActivationExpr, at index: Int, with replacement: ActivationExpr) -> ActivationExpr {
        if index == 0 { return replacement }
        switch e {
        case .unary(let op, let a):
            return .unary(op, replacing(a, at: index - 1, with: replacement))
        case .binary(let op, let a, let b):
            let leftSize = size(a)
            if index - 1 < leftSize { return .binary(op, replacing(a, at: index - 1, with: replacement), b) }
            return .binary(op, a, replacing(b, at: index - 1 - leftSize, with: replacement))
        default:
            preconditionFailure("pre-order index \(index) past the end of the expression")
        }
    }

    /// Whether `e` uses only what an evolved element-wise function may: `x`, finite constants, unary and
    /// binary operations.
    static func isElementwise(_ e: ActivationExpr) -> Bool {
        switch e {
        case .x: return true
        case .constant(let c): return c.isFinite
        case .parameter, .layerwise: return false
        case .unary(_, let a): return isElementwise(a)
        case .binary(_, let a, let b): return isElementwise(a) && isElementwise(b)
        }
    }

    static func dependsOnX(_ e: ActivationExpr) -> Bool {
        switch e {
        case .x: return true
        case .constant, .parameter, .layerwise: return false
        case .unary(_, let a): return dependsOnX(a)
        case .binary(_, let a, let b): return dependsOnX(a) || dependsOnX(b)
        }
    }
}
