// The activation expression language (issue 3). Public API at a glance:
//
//   let e = try ActivationExpr.parse("x * tanh(softplus(x))")   // ExpressionParseError: message, column, hint
//   e.description                     // parseable infix text; parse(e.description) == e
//   e.evaluate(0.5)                   // Swift reference in Double, PyTorch semantics, evaluation mode
//   e.evaluate(0.5, parameters: [..]) // learnable values in `e.parameters` order
//   e.evaluateRow([...])              // softmax family across a layer's units
//   e.parameters, e.isLayerwise, e.isStochastic, e.size, e.depth
//   e.canonical, e.canonicalKey, e.canonicalHash (FNV-1a, stable across runs), e.fingerprint
//   e.derivative(), e.derivative(parameter: "a")        // simplified expressions, PyTorch kink conventions
//   ActivationCodegen.source(for: [e0, e1, ...])       // OpenCL C: af_act / af_dact / af_dparam / af_key
//   ActivationCodegen.parameterCounts(for:), .evaluationSource(for:) (+ kernels/af_eval.cl)
//   Menu.paper1 / .paper2 / .default, Menu.named("paper1"); MenuEntry.apply(operands)
//   ActivationExport.pytorchModule(e), .jaxFunction(e), .latex(e), .render(e, as: .pytorch)
//   ActivationConstants (PyTorch defaults), ReferencePrimitives (Double primitives incl. digamma)

/// An activation function: an expression in one variable `x`.
///
/// This is the shared vocabulary of the project: the parser produces it, the simplifier, differentiator,
/// fingerprinter and OpenCL code generator consume it, and the searches (menus, CGP, tree GP) build it.
/// Element-wise semantics follow PyTorch's defaults for the op of the same name.
public indirect enum ActivationExpr: Hashable, Sendable {
    /// The input.
    case x
    /// A constant.
    case constant(Double)
    /// A learnable scalar with its initial value (PReLU's slope `a`, init 0.25). Parameters are per
    /// candidate and per slot; the trainer owns their values, the expression only names them.
    case parameter(name: String, initial: Double)
    case unary(UnaryOp, ActivationExpr)
    case binary(BinaryOp, ActivationExpr, ActivationExpr)
    /// A function that normalises across a layer's units (softmax family). Only valid at the top of an
    /// expression, applied to `x`: the trainer runs it as a row kernel, not element-wise.
    case layerwise(LayerwiseOp)
}

/// Element-wise primitives. Raw values are the names used by the parser, printer and menus.
public enum UnaryOp: String, CaseIterable, Hashable, Sendable {
    // arithmetic and elementary functions
    case neg, abs, square, sqrt, exp, log, log10, sin, cos, tan, asin, acos, atan, sinh, cosh, tanh
    case erf, erfc, ceil, floor, round, trunc, frac, digamma, angle
    /// log(|x| + 1e-7)-style protected log for evolved functions (never NaN).
    case logSafe = "log_safe"
    // activation functions with PyTorch's default hyper-parameters
    case relu, relu6, sigmoid, softplus, softsign, hardtanh, hardshrink, softshrink, tanhshrink
    case logSigmoid = "logsigmoid"
    case leakyRelu = "leaky_relu"
    case elu, selu, celu, gelu, silu, mish, hardswish
    /// Randomised leaky ReLU: slope ~ U(1/8, 1/3) per element in training, the mean slope in evaluation.
    case rrelu
    // Helpers that make derivatives expressible as expressions (added for `derivative()`).
    /// Heaviside step with step(0) = 0 (the derivative of relu, as PyTorch's autograd takes it).
    case step
    /// sign(x) with sign(0) = 0 (the derivative of abs, torch.sgn).
    case sign
    /// polygamma(1, x), the derivative of digamma.
    case trigamma
}

public enum BinaryOp: String, CaseIterable, Hashable, Sendable {
    case add, sub, mul, div, max, min
}

/// Functions across a layer's units (dim = 1 in PyTorch terms).
public enum LayerwiseOp: String, CaseIterable, Hashable, Sendable {
    case softmax, softmin
    case logSoftmax = "log_softmax"
    /// Gumbel-softmax with tau = 1: stochastic in training and evaluation, as PyTorch's F.gumbel_softmax.
    case gumbelSoftmax = "gumbel_softmax"
}
