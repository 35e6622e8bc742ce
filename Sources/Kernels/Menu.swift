import Foundation

/// One choice in a function menu: a complete activation (study 1), or a primitive with an arity that
/// genetic programming combines (study 2, tree GP). `apply` builds the node from operand expressions.
public struct MenuEntry: Sendable, Hashable {
    public enum Primitive: Sendable, Hashable {
        /// A whole function of x (arity 1 when used as a primitive: x is replaced by the operand).
        case function(ActivationExpr)
        case unary(UnaryOp)
        case binary(BinaryOp)
        /// A leaf: x or a constant (arity 0).
        case leaf(ActivationExpr)
    }

    /// PyTorch-style display name ("LeakyReLU").
    public var name: String
    public var primitive: Primitive
    /// Human-readable formula.
    public var formula: String

    public var arity: Int {
        switch primitive {
        case .function, .unary: return 1
        case .binary: return 2
        case .leaf: return 0
        }
    }

    /// The entry as a function of x (binary primitives applied to (x, x) only for display).
    public var expression: ActivationExpr {
        switch primitive {
        case .function(let e): return e
        case .unary(let op): return .unary(op, .x)
        case .binary(let op): return .binary(op, .x, .x)
        case .leaf(let e): return e
        }
    }

    /// True for the softmax family (normalises across units; only usable as a whole layer's function).
    public var isLayerwise: Bool { expression.isLayerwise }

    /// The node this primitive makes from `operands` (count == arity).
    public func apply(_ operands: [ActivationExpr]) -> ActivationExpr {
        precondition(operands.count == arity, "\(name) takes \(arity) operands, got \(operands.count)")
        switch primitive {
        case .function(let e): return e.substituting(x: operands[0])
        case .unary(let op): return .unary(op, operands[0])
        case .binary(let op): return .binary(op, operands[0], operands[1])
        case .leaf(let e): return e
        }
    }
}

public struct Menu: Sendable {
    public var name: String
    public var entries: [MenuEntry]

    public static let names = ["paper1", "paper2", "default"]

    /// `paper1`, `paper2` or `default`.
    public static func named(_ name: String) throws -> Menu {
        switch name.lowercased() {
        case "paper1": return paper1
        case "paper2": return paper2
        case "default": return .default
        default:
            throw MenuError.unknown(name)
        }
    }

    public enum MenuError: Error, CustomStringConvertible {
        case unknown(String)
        public var description: String {
            if case .unknown(let n) = self { return "unknown menu '\(n)'; expected one of \(Menu.names.joined(separator: ", "))" }
            return ""
        }
    }

    public func entry(named name: String) -> MenuEntry? {
        entries.first { $0.name.lowercased() == name.lowercased() }
    }

    /// Study 1's 48 functions with PyTorch's defaults: 21 torch.nn activations, 22 element-wise tensor
    /// functions, Gumbel-softmax, and 4 from the literature.
    public static let paper1 = Menu(name: "paper1", entries: [
        fn("ELU", "elu(x)", "x if x > 0 else exp(x) - 1"),
        fn("Hardshrink", "hardshrink(x)", "x if |x| > 0.5 else 0"),
        fn("Hardtanh", "hardtanh(x)", "clamp(x, -1, 1)"),
        fn("LeakyReLU", "leaky_relu(x)", "x if x > 0 else 0.01 x"),
        fn("LogSigmoid", "logsigmoid(x)", "log(1 / (1 + exp(-x)))"),
        fn("PReLU", "prelu(x; a=0.25)", "x if x >= 0 else a x (a learnable, init 0.25)"),
        fn("ReLU", "relu(x)", "max(0, x)"),
        fn("ReLU6", "relu6(x)", "min(max(0, x), 6)"),
        fn("RReLU", "rrelu(x)", "x if x >= 0 else r x, r ~ U(1/8, 1/3) in training, 11/48 in evaluation"),
        fn("SELU", "selu(x)", "1.0507 (x if x > 0 else 1.6733 (exp(x) - 1))"),
        fn("CELU", "celu(x)", "max(0, x) + min(0, exp(x) - 1)"),
        fn("GELU", "gelu(x)", "x Φ(x) = x (1 + erf(x / √2)) / 2"),
        fn("Sigmoid", "sigmoid(x)", "1 / (1 + exp(-x))"),
        fn("Softplus", "softplus(x)", "log(1 + exp(x)), x above 20"),
        fn("Softshrink", "softshrink(x)", "x - 0.5 if x > 0.5, x + 0.5 if x < -0.5, else 0"),
        fn("Softsign", "softsign(x)", "x / (1 + |x|)"),
        fn("Tanh", "tanh(x)", "tanh(x)"),
        fn("Tanhshrink", "tanhshrink(x)", "x - tanh(x)"),
        fn("Softmin", "softmin(x)", "exp(-x_i) / Σ_j exp(-x_j) across the layer"),
        fn("Softmax", "softmax(x)", "exp(x_i) / Σ_j exp(x_j) across the layer"),
        fn("LogSoftmax", "log_softmax(x)", "x_i - log Σ_j exp(x_j) across the layer"),
        fn("Abs", "abs(x)", "|x|"),
        fn("Acos", "acos(x)", "arccos(x), NaN outside [-1, 1]"),
        fn("Angle", "angle(x)", "0 if x >= 0 else π"),
        fn("Asin", "asin(x)", "arcsin(x), NaN outside [-1, 1]"),
        fn("Atan", "atan(x)", "arctan(x)"),
        fn("Ceil", "ceil(x)", "⌈x⌉"),
        fn("Cos", "cos(x)", "cos(x)"),
        fn("Cosh", "cosh(x)", "cosh(x)"),
        fn("Digamma", "digamma(x)", "ψ(x) = Γ'(x) / Γ(x)"),
        fn("Erf", "erf(x)", "2/√π ∫₀ˣ exp(-t²) dt"),
        fn("Erfc", "erfc(x)", "1 - erf(x)"),
        fn("Exp", "exp(x)", "exp(x)"),
        fn("Floor", "floor(x)", "⌊x⌋"),
        fn("Frac", "frac(x)", "x - trunc(x)"),
        fn("Log", "log(x)", "ln(x), NaN for x < 0"),
        fn("Log10", "log10(x)", "log₁₀(x)"),
        fn("Neg", "neg(x)", "-x"),
        fn("Round", "round(x)", "nearest integer, halves to even"),
        fn("Sin", "sin(x)", "sin(x)"),
        fn("Sinh", "sinh(x)", "sinh(x)"),
        fn("Tan", "tan(x)", "tan(x)"),
        fn("Trunc", "trunc(x)", "integer part of x"),
        fn("GumbelSoftmax", "gumbel_softmax(x)", "softmax(x + g), g ~ Gumbel(0, 1), tau = 1, across the layer"),
        fn("GeneralizedSwish", "x * sigmoid(exp(-x))", "x σ(e^(-x))"),
        fn("SigmoidDerivative", "exp(-x) * square(sigmoid(x))", "e^(-x) σ(x)²"),
        fn("CLogLogM", "1 - 2 * exp(-0.7 * exp(x))", "1 - 2 exp(-0.7 e^x)"),
        fn("Mish", "mish(x)", "x tanh(softplus(x))"),
    ])

    /// Study 2's Cartesian-GP primitives (PyTorch defaults): 5 binary, 10 unary.
    public static let paper2 = Menu(name: "paper2", entries: paper2Binary + paper2Unary)

    /// The tree-GP set: study 2's primitives plus smooth and elementary functions, swish-style products,
    /// the input and a few constants.
    public static let `default` = Menu(name: "default", entries: paper2Binary + [
        MenuEntry(name: "div", primitive: .binary(.div), formula: "a / b"),
    ] + paper2Unary + [
        unary(.sigmoid, "Sigmoid", "1 / (1 + exp(-x))"),
        unary(.exp, "Exp", "exp(x)"),
        unary(.logSafe, "LogSafe", "log(|x| + 1e-7)"),
        unary(.sin, "Sin", "sin(x)"),
        unary(.abs, "Abs", "|x|"),
        unary(.neg, "Neg", "-x"),
        unary(.square, "Square", "x²"),
        unary(.erf, "Erf", "erf(x)"),
        unary(.softplus, "Softplus", "log(1 + exp(x))"),
        unary(.gelu, "GELU", "x Φ(x)"),
        unary(.softsign, "Softsign", "x / (1 + |x|)"),
        fn("Swish", "x * sigmoid(x)", "x σ(x)"),
        fn("TanhGate", "x * tanh(x)", "x tanh(x)"),
        fn("Mish", "mish(x)", "x tanh(softplus(x))"),
        MenuEntry(name: "x", primitive: .leaf(.x), formula: "the input"),
        MenuEntry(name: "0", primitive: .leaf(.constant(0)), formula: "0"),
        MenuEntry(name: "0.5", primitive: .leaf(.constant(0.5)), formula: "0.5"),
        MenuEntry(name: "1", primitive: .leaf(.constant(1)), formula: "1"),
        MenuEntry(name: "2", primitive: .leaf(.constant(2)), formula: "2"),
    ])

    private static let paper2Binary: [MenuEntry] = [
        MenuEntry(name: "max", primitive: .binary(.max), formula: "max(a, b)"),
        MenuEntry(name: "min", primitive: .binary(.min), formula: "min(a, b)"),
        MenuEntry(name: "add", primitive: .binary(.add), formula: "a + b"),
        MenuEntry(name: "sub", primitive: .binary(.sub), formula: "a - b"),
        MenuEntry(name: "mul", primitive: .binary(.mul), formula: "a · b"),
    ]

    private static let paper2Unary: [MenuEntry] = [
        unary(.tanh, "Tanh", "tanh(x)"),
        unary(.relu, "ReLU", "max(0, x)"),
        unary(.leakyRelu, "LeakyReLU", "x if x > 0 else 0.01 x"),
        unary(.elu, "ELU", "x if x > 0 else exp(x) - 1"),
        unary(.hardshrink, "Hardshrink", "x if |x| > 0.5 else 0"),
        unary(.celu, "CELU", "max(0, x) + min(0, exp(x) - 1)"),
        unary(.hardtanh, "Hardtanh", "clamp(x, -1, 1)"),
        unary(.hardswish, "Hardswish", "x relu6(x + 3) / 6"),
        unary(.softshrink, "Softshrink", "x ∓ 0.5 outside [-0.5, 0.5], else 0"),
        unary(.rrelu, "RReLU", "x if x >= 0 else r x, r ~ U(1/8, 1/3) (mean in evaluation)"),
    ]

    private static func fn(_ name: String, _ text: String, _ formula: String) -> MenuEntry {
        do {
            return MenuEntry(name: name, primitive: .function(try ActivationExpr.parse(text)), formula: formula)
        } catch {
            preconditionFailure("menu entry \(name): \(error)")
        }
    }

    private static func unary(_ op: UnaryOp, _ name: String, _ formula: String) -> MenuEntry {
        MenuEntry(name: name, primitive: .unary(op), formula: formula)
    }
}

extension ActivationExpr {
    /// This expression with every `x` replaced by `replacement` (composition f(g(x))).
    public func substituting(x replacement: ActivationExpr) -> ActivationExpr {
        switch self {
        case .x: return replacement
        case .constant, .parameter: return self
        case .layerwise:
            precondition(replacement == .x, "a layer-wise function cannot be composed")
            return self
        case .unary(let op, let a): return .unary(op, a.substituting(x: replacement))
        case .binary(let op, let a, let b):
            return .binary(op, a.substituting(x: replacement), b.substituting(x: replacement))
        }
    }
}
