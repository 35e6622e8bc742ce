import Kernels

/// How the evaluator decides that two candidates are the same network, so that none is trained twice.
///
/// Two stages, as in DESIGN.md: a cheap structural key of the canonical form (catches `x*1` vs `x` once the
/// simplifier folds it), then an output fingerprint (catches equal functions written differently, e.g.
/// `max(x,0)` vs `relu(x)`). A candidate's key is the per-slot keys joined in slot order: the same functions
/// in other slots are other networks.
public struct CandidateIdentity: Sendable {
    /// Key of one expression's canonical form.
    public var canonicalKey: @Sendable (ActivationExpr) -> String
    /// Key of one expression's values on the fingerprint grid; `nil` to skip this stage.
    public var fingerprint: (@Sendable (ActivationExpr) -> String)?

    public init(
        canonicalKey: @escaping @Sendable (ActivationExpr) -> String,
        fingerprint: (@Sendable (ActivationExpr) -> String)? = nil
    ) {
        self.canonicalKey = canonicalKey
        self.fingerprint = fingerprint
    }

    /// Structure only: equal ASTs are equal candidates. Used until (or where) the expression language's
    /// canonical hash and fingerprint are not wanted.
    public static let structural = CandidateIdentity(canonicalKey: { ExpressionText.render($0) })

    public func canonicalKey(of candidate: [ActivationExpr]) -> String {
        candidate.map(canonicalKey).joined(separator: " | ")
    }

    /// The strongest key available: the fingerprint key when fingerprints are on, else the canonical key.
    /// This is the key stored with a trial (`TrialRecord.canonicalKey`) for dedup lookups across runs.
    public func functionKey(of candidate: [ActivationExpr]) -> String {
        guard let fingerprint else { return canonicalKey(of: candidate) }
        return "fp:" + candidate.map(fingerprint).joined(separator: "|")
    }
}

/// A readable infix rendering of an expression, used for keys and for display in the store and reports.
/// It is unambiguous (every operation is written as a call) and stable across runs.
public enum ExpressionText {
    public static func render(_ expr: ActivationExpr) -> String {
        switch expr {
        case .x: return "x"
        case let .constant(value): return constant(value)
        case let .parameter(name, initial): return "param(\(name)=\(constant(initial)))"
        case let .unary(op, arg): return "\(op.rawValue)(\(render(arg)))"
        case let .binary(op, lhs, rhs): return "\(op.rawValue)(\(render(lhs)), \(render(rhs)))"
        case let .layerwise(op): return "\(op.rawValue)(x)"
        }
    }

    private static func constant(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}
