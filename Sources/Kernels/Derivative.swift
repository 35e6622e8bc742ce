import Foundation

extension ActivationExpr {
    /// d/dx as an expression, in canonical form. Kinks follow PyTorch's autograd: relu'(0) = 0, abs'(0) = 0,
    /// hardtanh'(±1) = 0, elu'(0) = 1, hardswish'(−3) = 0, hardswish'(3) = 1, a tie of max/min splits the gradient in
    /// halves; piecewise-constant functions (floor, round, …, step, sign) have derivative 0. Subtrees that
    /// do not depend on x contribute an exact zero, never `f'(c) · 0`. RReLU uses its evaluation-mode slope.
    /// The derivative of `trigamma` (a second derivative of digamma) is not implemented and is NaN.
    public func derivative() -> ActivationExpr {
        (tangent(seed: .x) ?? .constant(0)).canonical
    }

    /// d/d(parameter `name`), in canonical form (0 when the parameter does not occur).
    public func derivative(parameter name: String) -> ActivationExpr {
        (tangent(seed: .parameter(name)) ?? .constant(0)).canonical
    }

    private enum Seed: Equatable {
        case x
        case parameter(String)
    }

    /// Forward-mode tangent; nil is an exact zero.
    private func tangent(seed: Seed) -> ActivationExpr? {
        switch self {
        case .x: return seed == .x ? .constant(1) : nil
        case .constant, .layerwise: return nil
        case .parameter(let name, _): return seed == .parameter(name) ? .constant(1) : nil
        case .unary(let op, let a):
            guard let da = a.tangent(seed: seed) else { return nil }
            return .binary(.mul, primitiveDerivative(op, a), da)
        case .binary(let op, let a, let b):
            let da = a.tangent(seed: seed), db = b.tangent(seed: seed)
            if da == nil && db == nil { return nil }
            switch op {
            case .add: return sum(da, db)
            case .sub:
                guard let db else { return da }
                return da.map { .binary(.sub, $0, db) } ?? .unary(.neg, db)
            case .mul: return sum(da.map { .binary(.mul, $0, b) }, db.map { .binary(.mul, a, $0) })
            case .div:
                return sum(da.map { .binary(.div, $0, b) },
                           db.map { .unary(.neg, .binary(.div, .binary(.mul, a, $0), .unary(.square, b))) })
            case .max, .min:
                // Weight of the left operand: 1 where it wins, 1/2 at a tie, 0 where it loses.
                let (winsLeft, winsRight): (ActivationExpr, ActivationExpr) = op == .max
                    ? (.unary(.step, .binary(.sub, a, b)), .unary(.step, .binary(.sub, b, a)))
                    : (.unary(.step, .binary(.sub, b, a)), .unary(.step, .binary(.sub, a, b)))
                let tie = ActivationExpr.binary(.mul, .constant(0.5),
                                                .binary(.sub, .binary(.sub, .constant(1), winsLeft), winsRight))
                let left = ActivationExpr.binary(.add, winsLeft, tie)
                let right = ActivationExpr.binary(.add, winsRight, tie)
                return sum(da.map { .binary(.mul, left, $0) }, db.map { .binary(.mul, right, $0) })
            }
        }
    }

    private func sum(_ a: ActivationExpr?, _ b: ActivationExpr?) -> ActivationExpr? {
        switch (a, b) {
        case (nil, nil): return nil
        case (let p?, nil): return p
        case (nil, let q?): return q
        case (let p?, let q?): return .binary(.add, p, q)
        }
    }
}

/// f'(a) for a primitive f, as an expression in its operand a.
private func primitiveDerivative(_ op: UnaryOp, _ a: ActivationExpr) -> ActivationExpr {
    typealias C = ActivationConstants
    func u(_ op: UnaryOp, _ e: ActivationExpr) -> ActivationExpr { .unary(op, e) }
    func c(_ v: Double) -> ActivationExpr { .constant(v) }
    func mul(_ l: ActivationExpr, _ r: ActivationExpr) -> ActivationExpr { .binary(.mul, l, r) }
    func add(_ l: ActivationExpr, _ r: ActivationExpr) -> ActivationExpr { .binary(.add, l, r) }
    func sub(_ l: ActivationExpr, _ r: ActivationExpr) -> ActivationExpr { .binary(.sub, l, r) }
    func div(_ l: ActivationExpr, _ r: ActivationExpr) -> ActivationExpr { .binary(.div, l, r) }
    let step = { (e: ActivationExpr) in u(.step, e) }
    switch op {
    case .neg: return c(-1)
    case .abs: return u(.sign, a)
    case .square: return mul(c(2), a)
    case .sqrt: return div(c(1), mul(c(2), u(.sqrt, a)))
    case .exp: return u(.exp, a)
    case .log: return div(c(1), a)
    case .log10: return div(c(1), mul(a, c(Foundation.log(10.0))))
    case .sin: return u(.cos, a)
    case .cos: return u(.neg, u(.sin, a))
    case .tan: return add(c(1), u(.square, u(.tan, a)))
    case .asin: return div(c(1), u(.sqrt, sub(c(1), u(.square, a))))
    case .acos: return div(c(-1), u(.sqrt, sub(c(1), u(.square, a))))
    case .atan: return div(c(1), add(c(1), u(.square, a)))
    case .sinh: return u(.cosh, a)
    case .cosh: return u(.sinh, a)
    case .tanh: return sub(c(1), u(.square, u(.tanh, a)))
    case .erf: return mul(c(2 / Double.pi.squareRoot()), u(.exp, u(.neg, u(.square, a))))
    case .erfc: return mul(c(-2 / Double.pi.squareRoot()), u(.exp, u(.neg, u(.square, a))))
    case .ceil, .floor, .round, .trunc, .angle, .step, .sign: return c(0)
    case .frac: return c(1)
    case .digamma: return u(.trigamma, a)
    case .trigamma: return c(.nan)
    case .logSafe: return div(u(.sign, a), add(u(.abs, a), c(C.logSafeOffset)))
    case .relu: return step(a)
    case .relu6: return mul(step(a), step(sub(c(6), a)))
    case .hardtanh: return mul(step(add(a, c(1))), step(sub(c(1), a)))
    case .sigmoid: return mul(u(.sigmoid, a), sub(c(1), u(.sigmoid, a)))
    // Exactly 1 above the threshold 20 (where softplus is the identity), σ(a) below.
    case .softplus: return .binary(.max, u(.sigmoid, a), step(sub(a, c(ActivationConstants.softplusThreshold))))
    case .softsign: return div(c(1), u(.square, add(c(1), u(.abs, a))))
    case .hardshrink, .softshrink: return step(sub(u(.abs, a), c(C.shrinkLambda)))
    case .tanhshrink: return u(.square, u(.tanh, a))
    case .logSigmoid: return u(.sigmoid, u(.neg, a))
    case .leakyRelu: return .binary(.max, step(a), c(C.leakyReluSlope))
    case .rrelu: return .binary(.max, step(a), c(C.rreluMeanSlope))
    case .elu, .celu: return .binary(.min, u(.exp, a), c(1))
    case .selu:
        // scale on the right, scale·alpha·e^a on the left (e^min(a, 0) keeps the unused branch finite).
        let left = mul(c(C.seluAlpha), u(.exp, .binary(.min, a, c(0))))
        return mul(c(C.seluScale), add(step(a), mul(sub(c(1), step(a)), left)))
    case .gelu:
        let cdf = mul(c(0.5), u(.erfc, mul(a, c(-1 / 2.0.squareRoot()))))
        let pdf = mul(c(1 / (2 * Double.pi).squareRoot()), u(.exp, mul(c(-0.5), u(.square, a))))
        return add(cdf, mul(a, pdf))
    case .silu: return mul(u(.sigmoid, a), add(c(1), mul(a, sub(c(1), u(.sigmoid, a)))))
    case .mish:
        let t = u(.tanh, u(.softplus, a))
        return add(t, mul(mul(a, u(.sigmoid, a)), sub(c(1), u(.square, t))))
    case .hardswish:
        // PyTorch (2.x): 0 for a ≤ −3, a/3 + 1/2 on (−3, 3), 1 for a ≥ 3.
        let above = sub(c(1), step(sub(c(3), a)))
        let inside = step(add(a, c(3)))
        return mul(inside, add(above, mul(sub(c(1), above), add(div(a, c(3)), c(0.5)))))
    }
}
