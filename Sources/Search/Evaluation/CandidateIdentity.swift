import Foundation
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

    /// The expression language's canonical form and value fingerprint (DESIGN.md's two dedup stages).
    ///
    /// A fingerprint evaluates the function at its initial parameter values in evaluation mode, so it cannot
    /// tell a learnable PReLU from the fixed function it starts as, nor RReLU's training noise from the leaky
    /// ReLU with its mean slope; such expressions keep their canonical key beside the fingerprint. Keys are
    /// memoised per expression: a menu search sees the same few dozen expressions thousands of times.
    public static let expressionLanguage: CandidateIdentity = {
        let memo = ExpressionKeyMemo()
        return CandidateIdentity(
            canonicalKey: { expr in memo.key(expr, stage: 0) { $0.canonicalKey } },
            fingerprint: { expr in
                memo.key(expr, stage: 1) { expr in
                    let value = expr.fingerprint.description
                    return expr.needsStructureBesideValues ? value + "#" + expr.canonicalKey : value
                }
            })
    }()

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

/// Thread-safe memo of per-expression keys.
final class ExpressionKeyMemo: @unchecked Sendable {
    private let lock = NSLock()
    private var keys: [Int: [ActivationExpr: String]] = [:]

    func key(_ expr: ActivationExpr, stage: Int, compute: (ActivationExpr) -> String) -> String {
        if let hit = lock.withLock({ keys[stage]?[expr] }) { return hit }
        let value = compute(expr)
        lock.withLock { keys[stage, default: [:]][expr] = value }
        return value
    }
}

extension ActivationExpr {
    /// Has a learnable parameter or a random op: equal values at the fingerprint grid do not make it the
    /// same trained function.
    var needsStructureBesideValues: Bool {
        switch self {
        case .x, .constant, .layerwise: return false
        case .parameter: return true
        case let .unary(op, arg): return op == .rrelu || arg.needsStructureBesideValues
        case let .binary(_, lhs, rhs): return lhs.needsStructureBesideValues || rhs.needsStructureBesideValues
        }
    }
}
