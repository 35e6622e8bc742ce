import Foundation

extension ActivationExpr {
    /// The learnable parameters in order of first appearance (depth-first, left to right), one entry per
    /// distinct name. The trainer stores a slot's parameter k at `prm[k]` in this order.
    public var parameters: [(name: String, initial: Double)] {
        var seen = Set<String>()
        var result: [(name: String, initial: Double)] = []
        visit { node in
            if case .parameter(let name, let initial) = node, seen.insert(name).inserted {
                result.append((name, initial))
            }
        }
        return result
    }

    public var parameterCount: Int { parameters.count }

    /// True for the softmax family, which normalises across a layer's units and runs as a row kernel.
    public var isLayerwise: Bool {
        if case .layerwise = self { return true }
        return false
    }

    /// True when some node is RReLU, whose training-mode slope is random.
    public var isStochastic: Bool {
        var found = false
        visit { node in
            if case .unary(.rrelu, _) = node { found = true }
            if case .layerwise(.gumbelSoftmax) = node { found = true }
        }
        return found
    }

    /// Number of nodes.
    public var size: Int {
        var n = 0
        visit { _ in n += 1 }
        return n
    }

    /// Longest path from the root to a leaf, counting nodes (a leaf has depth 1).
    public var depth: Int {
        switch self {
        case .x, .constant, .parameter, .layerwise: return 1
        case .unary(_, let a): return 1 + a.depth
        case .binary(_, let a, let b): return 1 + Swift.max(a.depth, b.depth)
        }
    }

    /// Pre-order walk: a node, then its operands left to right.
    public func visit(_ body: (ActivationExpr) -> Void) {
        body(self)
        switch self {
        case .x, .constant, .parameter, .layerwise: break
        case .unary(_, let a): a.visit(body)
        case .binary(_, let a, let b):
            a.visit(body)
            b.visit(body)
        }
    }

    /// The Swift reference value f(x) in Double with PyTorch's semantics in evaluation mode (RReLU uses
    /// its mean slope). `parameters` gives the learnable values in `self.parameters` order; `nil` uses
    /// the initial values. Layer-wise expressions have no element-wise value (NaN): use `evaluateRow`.
    public func evaluate(_ x: Double, parameters values: [Double]? = nil) -> Double {
        guard let values else { return evaluate(x, bindings: nil) }
        let names = parameters.map(\.name)
        precondition(values.count == names.count,
                     "evaluate: \(values.count) parameter values given, the expression has \(names.count)")
        return evaluate(x, bindings: Dictionary(uniqueKeysWithValues: zip(names, values)))
    }

    /// As `evaluate(_:parameters:)` with parameters looked up by name (missing names use initials).
    public func evaluate(_ x: Double, bindings: [String: Double]?) -> Double {
        switch self {
        case .x: return x
        case .constant(let c): return c
        case .parameter(let name, let initial): return bindings?[name] ?? initial
        case .unary(let op, let a): return ReferencePrimitives.apply(op, a.evaluate(x, bindings: bindings))
        case .binary(let op, let a, let b):
            return ReferencePrimitives.apply(op, a.evaluate(x, bindings: bindings), b.evaluate(x, bindings: bindings))
        case .layerwise: return .nan
        }
    }

    /// Values over one layer's units. Element-wise expressions apply `evaluate` to each unit; the softmax
    /// family normalises across the row (shifted by the row maximum so exp cannot overflow). Gumbel-softmax
    /// adds `gumbelNoise[i]` (−log(−log U)) to each unit first; without noise it is softmax.
    public func evaluateRow(_ row: [Double], parameters values: [Double]? = nil, gumbelNoise: [Double]? = nil) -> [Double] {
        guard case .layerwise(let op) = self else { return row.map { evaluate($0, parameters: values) } }
        var z = row
        if op == .gumbelSoftmax, let gumbelNoise {
            precondition(gumbelNoise.count == row.count, "evaluateRow: one Gumbel noise value per unit")
            for i in z.indices { z[i] += gumbelNoise[i] }
        }
        if op == .softmin { z = z.map { -$0 } }
        let m = z.max() ?? 0
        let shifted = z.map { $0 - m }
        let logSum = Foundation.log(shifted.reduce(0) { $0 + Foundation.exp($1) })
        switch op {
        case .logSoftmax: return shifted.map { $0 - logSum }
        case .softmax, .softmin, .gumbelSoftmax: return shifted.map { Foundation.exp($0 - logSum) }
        }
    }
}
