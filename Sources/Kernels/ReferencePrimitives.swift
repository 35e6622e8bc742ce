import Foundation

/// PyTorch's default hyper-parameters for the activation primitives, shared by the Swift reference,
/// the symbolic derivative, the OpenCL generator and the exporters.
public enum ActivationConstants {
    public static let leakyReluSlope = 0.01
    public static let shrinkLambda = 0.5
    public static let rreluLower = 1.0 / 8.0
    public static let rreluUpper = 1.0 / 3.0
    /// RReLU's slope in evaluation mode: the mean of U(lower, upper).
    public static let rreluMeanSlope = (rreluLower + rreluUpper) / 2
    public static let seluAlpha = 1.6732632423543772848170429916717
    public static let seluScale = 1.0507009873554804934193349852946
    /// Softplus switches to the identity above this (PyTorch's `threshold=20`, beta = 1).
    public static let softplusThreshold = 20.0
    /// The offset inside `log_safe(x) = log(|x| + offset)`.
    public static let logSafeOffset = 1e-7
}

/// Double-precision reference values of the primitives, with PyTorch's semantics (evaluation mode).
public enum ReferencePrimitives {
    public static func apply(_ op: UnaryOp, _ x: Double) -> Double {
        typealias C = ActivationConstants
        switch op {
        case .neg: return -x
        case .abs: return Swift.abs(x)
        case .square: return x * x
        case .sqrt: return x.squareRoot()
        case .exp: return Foundation.exp(x)
        case .log: return Foundation.log(x)
        case .log10: return Foundation.log10(x)
        case .sin: return Foundation.sin(x)
        case .cos: return Foundation.cos(x)
        case .tan: return Foundation.tan(x)
        case .asin: return Foundation.asin(x)
        case .acos: return Foundation.acos(x)
        case .atan: return Foundation.atan(x)
        case .sinh: return Foundation.sinh(x)
        case .cosh: return Foundation.cosh(x)
        case .tanh: return Foundation.tanh(x)
        case .erf: return Foundation.erf(x)
        case .erfc: return Foundation.erfc(x)
        case .ceil: return x.rounded(.up)
        case .floor: return x.rounded(.down)
        // torch.round rounds half to even.
        case .round: return x.rounded(.toNearestOrEven)
        case .trunc: return x.rounded(.towardZero)
        case .frac: return x - x.rounded(.towardZero)
        case .digamma: return digamma(x)
        case .trigamma: return trigamma(x)
        // torch.angle of a real tensor: 0 for x >= 0, pi for x < 0, NaN stays NaN.
        case .angle: return x.isNaN ? x : (x < 0 ? Double.pi : 0)
        case .logSafe: return Foundation.log(Swift.abs(x) + C.logSafeOffset)
        case .relu: return x.isNaN ? x : (x > 0 ? x : 0)
        case .relu6: return x.isNaN ? x : Swift.min(Swift.max(x, 0), 6)
        case .sigmoid: return sigmoid(x)
        case .softplus: return softplus(x)
        case .softsign: return x / (1 + Swift.abs(x))
        case .hardtanh: return x.isNaN ? x : Swift.min(Swift.max(x, -1), 1)
        case .hardshrink: return (x >= -C.shrinkLambda && x <= C.shrinkLambda) ? 0 : x
        case .softshrink:
            if x > C.shrinkLambda { return x - C.shrinkLambda }
            if x < -C.shrinkLambda { return x + C.shrinkLambda }
            return x.isNaN ? x : 0
        case .tanhshrink: return x - Foundation.tanh(x)
        case .logSigmoid: return Swift.min(x, 0) - Foundation.log1p(Foundation.exp(-Swift.abs(x)))
        case .leakyRelu: return x > 0 ? x : x * C.leakyReluSlope
        case .elu, .celu: return x > 0 ? x : Foundation.expm1(x)
        case .selu: return C.seluScale * (x > 0 ? x : C.seluAlpha * Foundation.expm1(x))
        // Φ(x) = erfc(−x/√2)/2 avoids the cancellation of 1 + erf(x/√2) for negative x.
        case .gelu: return 0.5 * x * Foundation.erfc(-x / 2.0.squareRoot())
        case .silu: return x * sigmoid(x)
        // PyTorch's mish has no softplus threshold: x * tanh(log1p(exp(x))).
        case .mish: return x * Foundation.tanh(Foundation.log1p(Foundation.exp(x)))
        case .hardswish:
            if x <= -3 { return 0 }
            if x >= 3 { return x }
            return x * (x + 3) / 6
        case .rrelu: return x >= 0 ? x : x * C.rreluMeanSlope
        case .step: return x.isNaN ? x : (x > 0 ? 1 : 0)
        case .sign: return x.isNaN ? x : (x > 0 ? 1 : (x < 0 ? -1 : 0))
        }
    }

    public static func apply(_ op: BinaryOp, _ a: Double, _ b: Double) -> Double {
        switch op {
        case .add: return a + b
        case .sub: return a - b
        case .mul: return a * b
        case .div: return a / b
        // torch.maximum / torch.minimum propagate NaN from either side.
        case .max: return (a.isNaN || b.isNaN) ? .nan : Swift.max(a, b)
        case .min: return (a.isNaN || b.isNaN) ? .nan : Swift.min(a, b)
        }
    }

    /// 1 / (1 + e^-x) without overflow: for x < 0 it is e^x / (1 + e^x).
    public static func sigmoid(_ x: Double) -> Double {
        if x >= 0 { return 1 / (1 + Foundation.exp(-x)) }
        let e = Foundation.exp(x)
        return e / (1 + e)
    }

    /// log(1 + e^x), the identity above the threshold 20 as in PyTorch.
    public static func softplus(_ x: Double) -> Double {
        x > ActivationConstants.softplusThreshold ? x : Foundation.log1p(Foundation.exp(x))
    }

    /// ψ(x). At 0 it is -inf (+inf at -0), NaN at negative integers, as torch.digamma.
    /// Negative x reflects: ψ(x) = ψ(1 − x) − π / tan(π x), with tan taken of the fractional part so the
    /// argument stays small. Positive x recurs upwards, ψ(x) = ψ(x + 1) − 1/x, until x ≥ 10, where the
    /// asymptotic series ln x − 1/(2x) − Σ B₂ₖ / (2k x²ᵏ) is accurate to double precision.
    public static func digamma(_ x: Double) -> Double {
        if x.isNaN || x == .infinity { return x }
        if x == -.infinity { return .nan }
        if x == 0 { return x.sign == .minus ? .infinity : -.infinity }
        if x < 0 {
            if x == x.rounded(.towardZero) { return .nan }
            let fraction = x - x.rounded(.towardZero)
            return digamma(1 - x) - Double.pi / Foundation.tan(Double.pi * fraction)
        }
        var shifted = x
        var result = 0.0
        while shifted < 10 {
            result -= 1 / shifted
            shifted += 1
        }
        let z = 1 / (shifted * shifted)
        // Bernoulli terms B2k / (2k): 1/12, -1/120, 1/252, -1/240, 1/132, -691/32760, 1/12
        let series = z * (1.0 / 12 - z * (1.0 / 120 - z * (1.0 / 252 - z * (1.0 / 240 - z * (1.0 / 132
            - z * (691.0 / 32760 - z / 12))))))
        return result + Foundation.log(shifted) - 0.5 / shifted - series
    }

    /// ψ₁(x) = polygamma(1, x). Reflection ψ₁(x) = π² / sin²(π x) − ψ₁(1 − x) below 1/2, recurrence
    /// ψ₁(x) = ψ₁(x + 1) + 1/x² up to x ≥ 10, then 1/x + 1/(2x²) + Σ B₂ₖ / x²ᵏ⁺¹.
    public static func trigamma(_ x: Double) -> Double {
        if x.isNaN { return x }
        if x == .infinity { return 0 }
        if x == -.infinity { return .nan }
        if x <= 0, x == x.rounded(.towardZero) { return .infinity }
        if x < 0.5 {
            let s = Foundation.sin(Double.pi * (x - x.rounded(.towardZero)))
            return Double.pi * Double.pi / (s * s) - trigamma(1 - x)
        }
        var shifted = x
        var result = 0.0
        while shifted < 10 {
            result += 1 / (shifted * shifted)
            shifted += 1
        }
        let z = 1 / (shifted * shifted)
        // 1/6, -1/30, 1/42, -1/30, 5/66, -691/2730, 7/6 over odd powers
        let series = (1 + z * (1.0 / 6 - z * (1.0 / 30 - z * (1.0 / 42 - z * (1.0 / 30 - z * (5.0 / 66
            - z * (691.0 / 2730 - z * 7.0 / 6))))))) / shifted
        return result + series + 0.5 * z
    }
}
