import Foundation

extension ActivationExpr {
    /// A simplified form with exactly the same values (IEEE semantics, NaN and inf included; signed zeros
    /// may become unsigned) and the same PyTorch-convention derivatives. Idempotent: `e.canonical.canonical
    /// == e.canonical`. Rules:
    /// - constant folding wherever the result is finite (a NaN or inf stays unfolded so equality stays
    ///   meaningful and the printed form readable);
    /// - identities exact in floating point: x·1, x/1, x+0, x−0 → x; −(−x) → x; (−1)·x → −x; x − c → x + (−c);
    ///   0 − x → −x; x + x → 2·x; max(x, x), min(x, x) → x; idempotent functions applied twice (abs, relu,
    ///   relu6, hardtanh, floor, ceil, round, trunc, step, sign) collapse; abs(−x), square(−x) drop the sign.
    ///   Not applied because they are not exact: x·0 (inf·0 is NaN), x − x, reassociation, x/c → x·(1/c).
    /// - a fixed operand order for +, ·, max, min: constants, then parameters, then x, then by printed form.
    /// PReLU's pattern keeps its shape so it still prints as `prelu(...)`.
    public var canonical: ActivationExpr {
        switch self {
        case .x, .constant, .parameter, .layerwise: return self
        case .unary(let op, let a): return simplified(.unary(op, a.canonical))
        case .binary(let op, let a, let b):
            if let p = preluParts {
                return .prelu(p.argument.canonical, slope: .parameter(name: p.name, initial: p.initial))
            }
            return simplified(.binary(op, a.canonical, b.canonical))
        }
    }

    /// The printed canonical form: a structural key that is stable across runs and machines.
    public var canonicalKey: String { canonical.description }

    /// 64-bit FNV-1a of `canonicalKey` (stable across runs; Swift's `hashValue` is randomly seeded).
    public var canonicalHash: UInt64 { fnv1a64(canonicalKey) }

    /// `canonicalHash` as 16 hex digits.
    public var canonicalHashHex: String { hex64(canonicalHash) }
}

/// 64-bit FNV-1a over the UTF-8 bytes of `text`.
public func fnv1a64(_ text: String) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in text.utf8 {
        h ^= UInt64(byte)
        h = h &* 0x0000_0100_0000_01b3
    }
    return h
}

func hex64(_ v: UInt64) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: 16 - s.count) + s
}

private let idempotentOps: Set<UnaryOp> = [.abs, .relu, .relu6, .hardtanh, .floor, .ceil, .round, .trunc, .step, .sign]

/// One node whose operands are already canonical; rewrites until no rule applies.
private func simplified(_ e: ActivationExpr) -> ActivationExpr {
    var current = e
    while let next = rewrite(current) { current = next }
    return current
}

private func isConstant(_ e: ActivationExpr, _ value: Double) -> Bool {
    if case .constant(let c) = e { return c == value }
    return false
}

/// One rewrite step at the root, or nil when none applies. Every rule's result has canonical operands.
private func rewrite(_ e: ActivationExpr) -> ActivationExpr? {
    switch e {
    case .unary(let op, let a):
        if case .constant(let c) = a {
            let v = ReferencePrimitives.apply(op, c)
            return v.isFinite && op != .rrelu ? .constant(v) : nil
        }
        if case .unary(let inner, let b) = a {
            if op == .neg && inner == .neg { return b }
            if op == inner && idempotentOps.contains(op) { return a }
            if inner == .neg && (op == .abs || op == .square) { return .unary(op, b) }
        }
        return nil
    case .binary(let op, let a, let b):
        if case .constant(let c) = a, case .constant(let d) = b {
            let v = ReferencePrimitives.apply(op, c, d)
            return v.isFinite ? .constant(v) : nil
        }
        switch op {
        case .add:
            if isConstant(b, 0) { return a }
            if isConstant(a, 0) { return b }
            if a == b { return simplified(.binary(.mul, .constant(2), a)) }
        case .sub:
            if isConstant(b, 0) { return a }
            if case .constant(let c) = b { return simplified(.binary(.add, a, .constant(-c))) }
            if isConstant(a, 0) { return simplified(.unary(.neg, b)) }
        case .mul:
            if isConstant(b, 1) { return a }
            if isConstant(a, 1) { return b }
            if isConstant(a, -1) { return simplified(.unary(.neg, b)) }
            if isConstant(b, -1) { return simplified(.unary(.neg, a)) }
        case .div:
            if isConstant(b, 1) { return a }
        case .max, .min:
            if a == b { return a }
        }
        if [.add, .mul, .max, .min].contains(op), ordersBefore(b, a) {
            return .binary(op, b, a)
        }
        return nil
    default:
        return nil
    }
}

/// Whether `l` sorts before `r` by `orderKey`. The printed forms (linear in the operands' sizes) are
/// compared only when both are compound, and only as far as their first difference.
private func ordersBefore(_ l: ActivationExpr, _ r: ActivationExpr) -> Bool {
    let lr = rank(l), rr = rank(r)
    if lr != rr { return lr < rr }
    if lr < 3 { return orderKey(l) < orderKey(r) }
    return printedFormPrecedes(l, r)
}

private func rank(_ e: ActivationExpr) -> Int {
    switch e {
    case .constant: return 0
    case .parameter: return 1
    case .x: return 2
    default: return 3
    }
}

/// Constants first (by value), then parameters, x, then everything else by printed form.
private func orderKey(_ e: ActivationExpr) -> OrderKey {
    switch e {
    case .constant(let c): return OrderKey(rank: 0, number: c, text: "")
    case .parameter(let name, _): return OrderKey(rank: 1, number: 0, text: name)
    case .x: return OrderKey(rank: 2, number: 0, text: "")
    default: return OrderKey(rank: 3, number: 0, text: e.description)
    }
}

private struct OrderKey: Comparable {
    var rank: Int
    var number: Double
    var text: String
    static func < (l: OrderKey, r: OrderKey) -> Bool {
        if l.rank != r.rank { return l.rank < r.rank }
        if l.number != r.number { return l.number < r.number }
        return l.text < r.text
    }
}
