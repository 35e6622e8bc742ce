import Foundation

extension ActivationExpr: CustomStringConvertible {
    /// The infix form; `ActivationExpr.parse(e.description) == e`. Constants print in Swift's shortest
    /// round-trip form, so no digit is lost; `prelu(E; a=0.25)` prints back as written.
    public var description: String { printed(self) }
}

/// PReLU with a learnable slope, as the sum `relu(E) + a * (E - relu(E))`. That form gives PyTorch's
/// values and, under this project's derivative rules, PyTorch's autograd results at E = 0 as well
/// (d/dx = a there, d/da = min(E, 0)); `max(E, 0) + a * min(E, 0)` would split the gradient at the tie.
extension ActivationExpr {
    public static func prelu(_ argument: ActivationExpr, slope: ActivationExpr) -> ActivationExpr {
        .binary(.add, .unary(.relu, argument),
                .binary(.mul, slope, .binary(.sub, argument, .unary(.relu, argument))))
    }

    /// The argument and slope parameter when this node is exactly the PReLU form built by `prelu(_:slope:)`.
    var preluParts: (argument: ActivationExpr, name: String, initial: Double)? {
        guard case .binary(.add, .unary(.relu, let a1), .binary(.mul, .parameter(let name, let initial),
                                                                    .binary(.sub, let a2, .unary(.relu, let a3)))) = self,
              a1 == a2, a2 == a3 else { return nil }
        return (a1, name, initial)
    }
}

/// A Double in the shortest text that parses back to the same value (`3`, `0.25`, `1e-07`, `-0`, `inf`).
public func formatConstant(_ d: Double) -> String {
    if d.isNaN { return "nan" }
    if d.isInfinite { return d < 0 ? "-inf" : "inf" }
    if d == 0 { return d.sign == .minus ? "-0" : "0" }
    if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
    return "\(d)"
}

/// Binding strength of a node when printed: sums 1, products 2, negation and negative literals 3, atoms 4.
private func precedence(_ e: ActivationExpr) -> Int {
    switch e {
    case .binary(.add, _, _), .binary(.sub, _, _):
        return e.preluParts == nil ? 1 : 4
    case .binary(.mul, _, _), .binary(.div, _, _): return 2
    case .unary(.neg, _): return 3
    case .constant(let c): return (c < 0 || (c == 0 && c.sign == .minus)) ? 3 : 4
    default: return 4
    }
}

/// The printed form, built without recursion (a deep expression cannot exhaust the stack).
private func printed(_ e: ActivationExpr) -> String {
    var out = ""
    var pieces = PrintedPieces(e)
    while let piece = pieces.next() { out += piece }
    return out
}

/// Whether `l`'s printed form sorts before `r`'s (by Unicode scalars), reading both only as far as their
/// first difference: ordering operands by printed form costs what the difference costs, not their sizes.
func printedFormPrecedes(_ l: ActivationExpr, _ r: ActivationExpr) -> Bool {
    var a = PrintedScalars(l), b = PrintedScalars(r)
    while true {
        switch (a.next(), b.next()) {
        case (nil, nil): return false
        case (nil, _): return true
        case (_, nil): return false
        case (let x?, let y?): if x != y { return x.value < y.value }
        }
    }
}

/// The printed form's Unicode scalars, one at a time.
private struct PrintedScalars {
    private var pieces: PrintedPieces
    private var current: [Unicode.Scalar] = []
    private var index = 0

    init(_ e: ActivationExpr) { pieces = PrintedPieces(e) }

    mutating func next() -> Unicode.Scalar? {
        while index == current.count {
            guard let piece = pieces.next() else { return nil }
            current = Array(piece.unicodeScalars)
            index = 0
        }
        defer { index += 1 }
        return current[index]
    }
}

/// The printed form as a sequence of text pieces, produced from an explicit stack of pending work.
private struct PrintedPieces {
    private enum Work {
        case text(String)
        case expr(ActivationExpr)
    }
    private var stack: [Work]

    init(_ e: ActivationExpr) { stack = [.expr(e)] }

    mutating func next() -> String? {
        while let work = stack.popLast() {
            switch work {
            case .text(let t): return t
            case .expr(let e):
                if let text = expand(e) { return text }
            }
        }
        return nil
    }

    /// A leaf's text, or nil after pushing a compound node's pieces (last piece first).
    private mutating func expand(_ e: ActivationExpr) -> String? {
        func push(_ items: [Work]) { stack.append(contentsOf: items.reversed()) }
        if let p = e.preluParts {
            push([.text("prelu("), .expr(p.argument), .text("; \(p.name)=\(formatConstant(p.initial)))")])
            return nil
        }
        switch e {
        case .x: return "x"
        case .constant(let c): return formatConstant(c)
        case .parameter(let name, let initial): return "param(\(name)=\(formatConstant(initial)))"
        case .layerwise(let op): return "\(op.rawValue)(x)"
        case .unary(.neg, let a):
            // `-(2)` keeps neg(2) apart from the literal -2; `-(a * b)` keeps the product inside.
            if case .constant(let c) = a, c >= 0 || c.isNaN {
                push([.text("-("), .expr(a), .text(")")])
            } else if precedence(a) >= 3 {
                push([.text("-"), .expr(a)])
            } else {
                push([.text("-("), .expr(a), .text(")")])
            }
        case .unary(let op, let a):
            push([.text("\(op.rawValue)("), .expr(a), .text(")")])
        case .binary(let op, let l, let r):
            let symbol: String
            switch op {
            case .add: symbol = " + "
            case .sub: symbol = " - "
            case .mul: symbol = " * "
            case .div: symbol = " / "
            case .max, .min:
                push([.text("\(op.rawValue)("), .expr(l), .text(", "), .expr(r), .text(")")])
                return nil
            }
            let p = precedence(e)
            // Left-associative parsing: the right operand needs parentheses at equal precedence too.
            let left: [Work] = precedence(l) < p ? [.text("("), .expr(l), .text(")")] : [.expr(l)]
            let right: [Work] = precedence(r) <= p ? [.text("("), .expr(r), .text(")")] : [.expr(r)]
            push(left + [.text(symbol)] + right)
        }
        return nil
    }
}
