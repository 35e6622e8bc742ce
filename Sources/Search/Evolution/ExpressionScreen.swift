import Kernels

/// Rejects an evolved expression before any training: one that is not element-wise (a layer-wise function
/// or a learnable parameter), or one that is NaN or infinite somewhere on a grid over [−10, 10] (inputs of
/// a normalised network's layers live there; such a network would diverge, so training it is wasted).
/// A rejected network scores 0 and is recorded as failed.
public struct ExpressionScreen: Sendable {
    /// The Swift reference value of an expression at `x`.
    public var evaluate: @Sendable (ActivationExpr, Double) -> Double
    public var grid: [Double]

    public init(grid: [Double] = stride(from: -10.0, through: 10.0, by: 0.05).map { $0 },
                evaluate: @escaping @Sendable (ActivationExpr, Double) -> Double) {
        self.grid = grid
        self.evaluate = evaluate
    }

    /// Why `expression` is rejected, or nil when it may be trained.
    public func rejection(_ expression: ActivationExpr) -> String? {
        guard ExpressionTree.isElementwise(expression) else {
            return "not element-wise (layer-wise function or learnable parameter)"
        }
        for x in grid {
            let y = evaluate(expression, x)
            if !y.isFinite { return "\(y.isNaN ? "NaN" : "infinite") at x = \(x)" }
        }
        return nil
    }
}
