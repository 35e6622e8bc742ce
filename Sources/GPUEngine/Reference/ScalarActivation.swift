import Foundation
import Kernels

/// How the reference evaluates one slot's expression: an element-wise function with its derivatives in x
/// and in each learnable parameter, or a layer-wise (softmax family) function of a whole row.
enum ReferenceSlotActivation {
    case elementwise(ScalarActivation)
    case layerwise(LayerwiseOp)

    init(_ expr: ActivationExpr) throws {
        if case .layerwise(let op) = expr { self = .layerwise(op) } else { self = .elementwise(try ScalarActivation(expr)) }
    }

    var parameterCount: Int {
        if case .elementwise(let s) = self { return s.parameterNames.count }
        return 0
    }
}

/// An element-wise activation in Double, differentiated in forward mode: every node carries its value, its
/// derivative in x and its derivatives in the learnable parameters, so `dx` and `dparam` are exact (no
/// finite differences) and independent of any symbolic differentiator. RReLU uses its mean slope (the
/// reference is the evaluation-mode function); Gumbel noise and other randomness live elsewhere.
struct ScalarActivation {
    let expr: ActivationExpr
    /// Distinct parameter names in first-appearance order (depth-first, left to right); index = `prm[k]`.
    let parameterNames: [String]
    let initialParameters: [Double]

    init(_ expr: ActivationExpr) throws {
        self.expr = expr
        var names: [String] = [], initial: [Double] = []
        func collect(_ e: ActivationExpr) throws {
            switch e {
            case .x, .constant: break
            case .parameter(let name, let value):
                if !names.contains(name) { names.append(name); initial.append(value) }
            case .unary(_, let a): try collect(a)
            case .binary(_, let a, let b): try collect(a); try collect(b)
            case .layerwise: throw TrainerError.invalidSpec("a layer-wise function (softmax family) must be the whole expression")
            }
        }
        try collect(expr)
        parameterNames = names
        initialParameters = initial
    }

    /// (f, ∂f/∂x, ∂f/∂p_k for each parameter).
    func evaluate(_ x: Double, parameters p: [Double]) throws -> (value: Double, dx: Double, dp: [Double]) {
        let d = try Dual.eval(expr, x: x, parameters: p, names: parameterNames)
        return (d.v, d.g[0], Array(d.g.dropFirst()))
    }
}

/// A value with its gradient in (x, p_0, p_1, …).
struct Dual {
    var v: Double
    var g: [Double]

    static func eval(_ e: ActivationExpr, x: Double, parameters p: [Double], names: [String]) throws -> Dual {
        let n = names.count + 1
        func rec(_ e: ActivationExpr) throws -> Dual {
            switch e {
            case .x:
                var g = [Double](repeating: 0, count: n); g[0] = 1
                return Dual(v: x, g: g)
            case .constant(let c):
                return Dual(v: c, g: [Double](repeating: 0, count: n))
            case .parameter(let name, _):
                let k = names.firstIndex(of: name)!
                var g = [Double](repeating: 0, count: n); g[k + 1] = 1
                return Dual(v: p[k], g: g)
            case .unary(let op, let a):
                let u = try rec(a)
                let (v, d) = unary(op, u.v)
                return Dual(v: v, g: u.g.map { $0 * d })
            case .binary(let op, let a, let b):
                let l = try rec(a), r = try rec(b)
                let (v, dl, dr) = binary(op, l.v, r.v)
                return Dual(v: v, g: zip(l.g, r.g).map { $0 * dl + $1 * dr })
            case .layerwise:
                throw TrainerError.invalidSpec("layer-wise function inside an element-wise expression")
            }
        }
        return try rec(e)
    }

    /// (f(u), f'(u)) with PyTorch's conventions at kinks (relu'(0) = 0, leaky_relu'(0) = slope).
    static func unary(_ op: UnaryOp, _ u: Double) -> (Double, Double) {
        func sig(_ t: Double) -> Double { t >= 0 ? 1 / (1 + exp(-t)) : exp(t) / (1 + exp(t)) }
        func softplus(_ t: Double) -> Double { t > 20 ? t : log1p(exp(t)) }
        switch op {
        case .neg: return (-u, -1)
        case .square: return (u * u, 2 * u)
        case .exp: let e = exp(u); return (e, e)
        case .log: return (log(u), 1 / u)
        case .sin: return (sin(u), cos(u))
        case .cos: return (cos(u), -sin(u))
        case .tanh: let t = tanh(u); return (t, 1 - t * t)
        case .sigmoid: let s = sig(u); return (s, s * (1 - s))
        case .relu: return (u > 0 ? u : 0, u > 0 ? 1 : 0)
        case .leakyRelu: return (u > 0 ? u : 0.01 * u, u > 0 ? 1 : 0.01)
        case .rrelu:
            let slope = (1.0 / 8 + 1.0 / 3) / 2
            return (u >= 0 ? u : slope * u, u >= 0 ? 1 : slope)
        case .softplus: return (softplus(u), sig(u))
        case .elu: return (u > 0 ? u : exp(u) - 1, u > 0 ? 1 : exp(u))
        case .silu: let s = sig(u); return (u * s, s * (1 + u * (1 - s)))
        case .abs: return (Swift.abs(u), u > 0 ? 1 : (u < 0 ? -1 : 0))
        default:
            // Ops without a hand-written rule: the value from the shared expression evaluator and the slope
            // by a central difference (relative error ~1e-9 on smooth stretches; kinks get their average).
            let f = ActivationExpr.unary(op, .x)
            let h = 1e-6 * Swift.max(1, Swift.abs(u))
            return (f.evaluate(u), (f.evaluate(u + h) - f.evaluate(u - h)) / (2 * h))
        }
    }

    static func binary(_ op: BinaryOp, _ a: Double, _ b: Double) -> (Double, Double, Double) {
        switch op {
        case .add: return (a + b, 1, 1)
        case .sub: return (a - b, 1, -1)
        case .mul: return (a * b, b, a)
        case .div: return (a / b, 1 / b, -a / (b * b))
        case .max: return a >= b ? (a, 1, 0) : (b, 0, 1)
        case .min: return a <= b ? (a, 1, 0) : (b, 0, 1)
        }
    }
}
