// OpenCL C for each primitive: its value `af_f_<name>(x)` and its derivative `af_df_<name>(x, y)` given the
// input x and the output y. Forms are chosen for float32 stability and to reproduce PyTorch's values and
// autograd conventions (NaN/inf included): softplus switches to x above 20, sigmoid never forms exp(+large),
// log-sigmoid is min(x,0) - log1p(exp(-|x|)), GELU uses erfc, comparisons decide the kinks exactly as
// PyTorch's backward formulas do (relu'(0) = 0, hardtanh'(±1) = 0, elu'(0) = 1, hardswish'(±3) = 0 and 1, …).

struct OpenCLPrimitive {
    /// Body of `float af_f_<name>(float x)`.
    var value: String
    /// Body of `float af_df_<name>(float x, float y)` (y = the value at x).
    var derivative: String
    /// Other primitives the bodies call.
    var uses: [UnaryOp] = []
}

enum OpenCLPrimitives {
    static func name(_ op: UnaryOp) -> String { op.rawValue }

    static func primitive(_ op: UnaryOp) -> OpenCLPrimitive {
        switch op {
        case .neg: return .init(value: "return -x;", derivative: "return -1.0f;")
        case .abs: return .init(value: "return fabs(x);", derivative: "return af_f_sign(x);", uses: [.sign])
        case .square: return .init(value: "return x * x;", derivative: "return 2.0f * x;")
        case .sqrt: return .init(value: "return sqrt(x);", derivative: "return 1.0f / (2.0f * y);")
        case .exp: return .init(value: "return exp(x);", derivative: "return y;")
        case .log: return .init(value: "return log(x);", derivative: "return 1.0f / x;")
        case .log10: return .init(value: "return log10(x);", derivative: "return 1.0f / (x * 2.302585092994046f);")
        case .sin: return .init(value: "return sin(x);", derivative: "return cos(x);")
        case .cos: return .init(value: "return cos(x);", derivative: "return -sin(x);")
        case .tan: return .init(value: "return tan(x);", derivative: "return 1.0f + y * y;")
        case .asin: return .init(value: "return asin(x);", derivative: "return rsqrt(1.0f - x * x);")
        case .acos: return .init(value: "return acos(x);", derivative: "return -rsqrt(1.0f - x * x);")
        case .atan: return .init(value: "return atan(x);", derivative: "return 1.0f / (1.0f + x * x);")
        case .sinh: return .init(value: "return sinh(x);", derivative: "return cosh(x);")
        case .cosh: return .init(value: "return cosh(x);", derivative: "return sinh(x);")
        // tanh|x| = (1 − e) / (1 + e), e = exp(−2|x|) ≤ 1 (never overflows), below |x| = 1/4 the Taylor series
        // to x⁹ (where 1 − e would cancel; truncation < 1e-8 relative); < 3 ulp overall. Beyond |x| ≈ 8.7, e is
        // under half an ulp of 1 and the quotient is exactly ±1: no 1 − ulp there, which 1 − y² would turn into
        // a spurious slope (times e^x, say, in tanh(exp(x))). PoCL vectorises this about 1.3× faster than its tanh.
        case .tanh:
            return .init(value: "float z = fabs(x);\n    float e = exp(-2.0f * z);\n    float s = z * z;\n"
                            + "    float small = z + z * s * (-1.0f / 3.0f + s * (2.0f / 15.0f + s * (-17.0f / 315.0f + s * (62.0f / 2835.0f))));\n"
                            + "    return copysign(z < 0.25f ? small : (1.0f - e) / (1.0f + e), x);",
                         derivative: "return 1.0f - y * y;")
        case .erf: return .init(value: "return erf(x);", derivative: "return M_2_SQRTPI_F * exp(-x * x);")
        case .erfc: return .init(value: "return erfc(x);", derivative: "return -M_2_SQRTPI_F * exp(-x * x);")
        case .ceil: return .init(value: "return ceil(x);", derivative: "return 0.0f;")
        case .floor: return .init(value: "return floor(x);", derivative: "return 0.0f;")
        // rint rounds half to even, as torch.round.
        case .round: return .init(value: "return rint(x);", derivative: "return 0.0f;")
        case .trunc: return .init(value: "return trunc(x);", derivative: "return 0.0f;")
        case .frac: return .init(value: "return x - trunc(x);", derivative: "return 1.0f;")
        case .angle: return .init(value: "return isnan(x) ? x : (x < 0.0f ? M_PI_F : 0.0f);", derivative: "return 0.0f;")
        case .digamma: return .init(value: digammaBody, derivative: "return af_f_trigamma(x);", uses: [.trigamma])
        case .trigamma:
            // The second polygamma is not implemented; only symbolic second derivatives of digamma reach it.
            return .init(value: trigammaBody, derivative: "return NAN;")
        case .logSafe:
            return .init(value: "return log(fabs(x) + 1e-7f);", derivative: "return af_f_sign(x) / (fabs(x) + 1e-7f);", uses: [.sign])
        case .relu: return .init(value: "return (x > 0.0f || isnan(x)) ? x : 0.0f;", derivative: "return x > 0.0f ? 1.0f : 0.0f;")
        case .relu6:
            return .init(value: "return isnan(x) ? x : fmin(fmax(x, 0.0f), 6.0f);",
                         derivative: "return (x > 0.0f && x < 6.0f) ? 1.0f : 0.0f;")
        case .hardtanh:
            return .init(value: "return isnan(x) ? x : fmin(fmax(x, -1.0f), 1.0f);",
                         derivative: "return (x > -1.0f && x < 1.0f) ? 1.0f : 0.0f;")
        // e = exp(-|x|) never overflows; 1/(1+e) for x ≥ 0 and e/(1+e) below are the two-branch form's
        // exact operations, written as one select so that loops over it vectorise (PoCL: SiLU 2.7×).
        case .sigmoid:
            return .init(value: "float e = exp(-fabs(x));\n    return (x >= 0.0f ? 1.0f : e) / (1.0f + e);",
                         derivative: "return y * (1.0f - y);")
        // log1p(exp(x)) = max(x, 0) + log1p(w), w = exp(−|x|) ∈ (0, 1]; log1p(w) = 2 atanh(s), s = w / (2 + w)
        // ≤ 1/3, by its odd series to s¹⁷ (truncation < 3e-9 relative): one exp, one division, no log (PoCL's
        // log1p is a scalar call; this form vectorises). Above 20, x as PyTorch's threshold. The slope σ(x) is
        // sigmoid's form on the same w, so a loop computing both (mlp_act_slope_span) runs one exp.
        case .softplus:
            return .init(value: "float w = exp(-fabs(x));\n    float s = w / (2.0f + w);\n    float s2 = s * s;\n"
                            + "    float p = 2.0f / 17.0f;\n    p = p * s2 + 2.0f / 15.0f;\n    p = p * s2 + 2.0f / 13.0f;\n"
                            + "    p = p * s2 + 2.0f / 11.0f;\n    p = p * s2 + 2.0f / 9.0f;\n    p = p * s2 + 2.0f / 7.0f;\n"
                            + "    p = p * s2 + 2.0f / 5.0f;\n    p = p * s2 + 2.0f / 3.0f;\n"
                            + "    return x > 20.0f ? x : fmax(x, 0.0f) + (2.0f * s + s * s2 * p);",
                         derivative: "float w = exp(-fabs(x));\n    return x > 20.0f ? 1.0f : (x >= 0.0f ? 1.0f : w) / (1.0f + w);")
        case .softsign:
            return .init(value: "return x / (1.0f + fabs(x));",
                         derivative: "float d = 1.0f + fabs(x);\n    return 1.0f / (d * d);")
        case .hardshrink:
            return .init(value: "return (x >= -0.5f && x <= 0.5f) ? 0.0f : x;",
                         derivative: "return (x >= -0.5f && x <= 0.5f) ? 0.0f : 1.0f;")
        case .softshrink:
            return .init(value: "return x > 0.5f ? x - 0.5f : (x < -0.5f ? x + 0.5f : (isnan(x) ? x : 0.0f));",
                         derivative: "return (x >= -0.5f && x <= 0.5f) ? 0.0f : 1.0f;")
        case .tanhshrink:
            return .init(value: "return x - af_f_tanh(x);", derivative: "float t = af_f_tanh(x);\n    return t * t;", uses: [.tanh])
        case .logSigmoid:
            return .init(value: "return fmin(x, 0.0f) - log1p(exp(-fabs(x)));",
                         derivative: "float z = exp(-fabs(x));\n    return x < 0.0f ? 1.0f - z / (1.0f + z) : z / (1.0f + z);")
        case .leakyRelu:
            return .init(value: "return x > 0.0f ? x : x * 0.01f;", derivative: "return x > 0.0f ? 1.0f : 0.01f;")
        case .elu, .celu:
            return .init(value: "return x > 0.0f ? x : expm1(x);", derivative: "return x > 0.0f ? 1.0f : exp(x);")
        case .selu:
            return .init(value: "return 1.0507009873554805f * (x > 0.0f ? x : 1.6732632423543772f * expm1(x));",
                         derivative: "return x > 0.0f ? 1.0507009873554805f : 1.0507009873554805f * 1.6732632423543772f * exp(x);")
        case .gelu:
            // Φ(x) = erfc(−x/√2)/2: 1 + erf(x/√2) cancels catastrophically for x below about −3.
            return .init(value: "return 0.5f * x * erfc(-x * M_SQRT1_2_F);",
                         derivative: "return 0.5f * erfc(-x * M_SQRT1_2_F) + x * 0.3989422804014327f * exp(-0.5f * x * x);")
        case .silu:
            return .init(value: "return x * af_f_sigmoid(x);",
                         derivative: "float s = af_f_sigmoid(x);\n    return s * (1.0f + x * (1.0f - s));", uses: [.sigmoid])
        case .mish:
            // PyTorch's mish has no softplus threshold: exp overflows to inf, log1p(inf) = inf, tanh(inf) = 1.
            // With e = exp(x), tanh(log1p(e)) = n / (n + 2), n = e (e + 2): one exp and a division, no
            // cancellation anywhere (for x → −∞ it tends to e, as it should), and 1 − tanh² = (4n + 4) / (n + 2)²
            // exactly, where 1 − t·t would cancel; the slope's sigmoid is e / (1 + e) from the same exp (1 above 15,
            // where e may be inf; x · 1 · 0 keeps PyTorch's NaN at +inf). Above 15
            // tanh(softplus(x)) is 1.0f exactly (and n overflows past 44), so x and slope 1 are selected there;
            // PoCL vectorises these forms (value 6×, slope 3× the tanh∘log1p ones).
            return .init(value: "float e = exp(x);\n    float n = e * (e + 2.0f);\n    return x > 15.0f ? x : x * (n / (n + 2.0f));",
                         derivative: "float e = exp(x);\n    float n = e * (e + 2.0f);\n    float r = 1.0f / (n + 2.0f);\n"
                            + "    float t = x > 15.0f ? 1.0f : n * r;\n    float u = x > 15.0f ? 0.0f : (4.0f * n + 4.0f) * (r * r);\n"
                            + "    float s = x > 15.0f ? 1.0f : e / (1.0f + e);\n    return t + x * s * u;")
        case .hardswish:
            return .init(value: "return x <= -3.0f ? 0.0f : (x >= 3.0f ? x : x * (x + 3.0f) / 6.0f);",
                         derivative: "return x <= -3.0f ? 0.0f : (x < 3.0f ? x / 3.0f + 0.5f : 1.0f);")
        case .rrelu:
            // Only the evaluation-mode form; training draws the slope per node (see `af_rrelu`).
            return .init(value: "return x >= 0.0f ? x : x * 0.22916666666666666f;",
                         derivative: "return x > 0.0f ? 1.0f : 0.22916666666666666f;")
        case .step:
            return .init(value: "return x > 0.0f ? 1.0f : (isnan(x) ? x : 0.0f);", derivative: "return 0.0f;")
        case .sign:
            return .init(value: "return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : (isnan(x) ? x : 0.0f));",
                         derivative: "return 0.0f;")
        }
    }

    /// ψ(x) in float: reflection ψ(x) = ψ(1 − x) − π / tan(π x) for x < 0, recurrence up to x ≥ 10, then the
    /// asymptotic series ln x − 1/(2x) − Σ B₂ₖ/(2k x²ᵏ) (five terms reach float precision at x ≥ 10).
    /// The trainer's program defines AF_FM_POLYGAMMA and takes the straight-line form of kernels/mlp_fastmath.cl
    /// instead (this loop's data-dependent trip count keeps every loop over it scalar).
    static let digammaBody = """
    #ifdef AF_FM_POLYGAMMA
        return af_fm_digamma(x);
    #else
        if (isnan(x) || x == INFINITY) return x;
        if (x == -INFINITY) return NAN;
        if (x == 0.0f) return signbit(x) ? INFINITY : -INFINITY;
        float reflection = 0.0f;
        if (x < 0.0f) {
            float t = trunc(x);
            if (x == t) return NAN;
            reflection = -M_PI_F / tanpi(x - t);
            x = 1.0f - x;
        }
        float acc = 0.0f;
        while (x < 10.0f) { acc -= 1.0f / x; x += 1.0f; }
        float z = 1.0f / (x * x);
        float series = z * (1.0f / 12.0f - z * (1.0f / 120.0f - z * (1.0f / 252.0f - z * (1.0f / 240.0f - z * (1.0f / 132.0f)))));
        return reflection + acc + log(x) - 0.5f / x - series;
    #endif
    """

    /// ψ₁(x) in float: reflection ψ₁(x) = π²/sin²(π x) − ψ₁(1 − x) below 1/2, recurrence up to x ≥ 10,
    /// then 1/x + 1/(2x²) + Σ B₂ₖ/x²ᵏ⁺¹.
    static let trigammaBody = """
    #ifdef AF_FM_POLYGAMMA
        return af_fm_trigamma(x);
    #else
        if (isnan(x)) return x;
        if (x == INFINITY) return 0.0f;
        if (x == -INFINITY) return NAN;
        float sign = 1.0f, reflection = 0.0f;
        if (x < 0.5f) {
            // sin of the float product π·x, as PyTorch forms it: at the poles (x = 0, -1, …) this gives
            // PyTorch's huge finite values (or inf at 0) rather than an exact pole.
            float s = sin(M_PI_F * x);
            reflection = M_PI_F * M_PI_F / (s * s);
            sign = -1.0f;
            x = 1.0f - x;
        }
        float acc = 0.0f;
        while (x < 10.0f) { acc += 1.0f / (x * x); x += 1.0f; }
        float z = 1.0f / (x * x);
        float series = (1.0f + z * (1.0f / 6.0f - z * (1.0f / 30.0f - z * (1.0f / 42.0f - z * (1.0f / 30.0f))))) / x + 0.5f * z;
        return reflection + sign * (acc + series);
    #endif
    """

    /// Training-mode RReLU: a slope from U(1/8, 1/3) drawn from a hash of (key, node); key 0 = evaluation.
    /// The integer hash is a xorshift-multiply finaliser; `ActivationCodegen.rreluSlope` mirrors it in Swift.
    static let rreluSource = """
    uint af_hash(uint h) {
        h ^= h >> 16; h *= 0x7feb352dU;
        h ^= h >> 15; h *= 0x846ca68bU;
        h ^= h >> 16;
        return h;
    }

    /// A key for one element and step: combine a seed with up to two indices (e.g. step, element).
    uint af_key(uint seed, uint a, uint b) {
        uint k = af_hash(seed ^ af_hash(a + 0x9e3779b9U) ^ af_hash(b + 0x85ebca6bU));
        return k == 0U ? 1U : k;
    }

    float af_rrelu_slope(uint key, uint node) {
        if (key == 0U) return 0.22916666666666666f;
        uint h = af_hash(key ^ af_hash(node * 0x9e3779b9U + 0x632be5abU));
        return 0.125f + 0.20833333333333334f * ((float)(h >> 8) * (1.0f / 16777216.0f));
    }

    float af_rrelu(float x, uint key, uint node) {
        return x >= 0.0f ? x : x * af_rrelu_slope(key, node);
    }

    float af_drrelu(float x, uint key, uint node) {
        return x > 0.0f ? 1.0f : af_rrelu_slope(key, node);
    }
    """
}
