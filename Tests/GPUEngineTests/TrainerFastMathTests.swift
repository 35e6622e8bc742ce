import Foundation
import Testing
import Kernels
@testable import GPUEngine

/// The trainer's program maps `expm1`, `log1p`, `erfc`, `sinh`, `cosh`, `atan`, `log`, `log10` and `erf` onto kernels/mlp_fastmath.cl. These tests hold
/// those forms to double-precision libm on the device, and the activations built from them (ELU, GELU,
/// softplus, Mish) to the Double reference trainer.
@Suite(.serialized) struct TrainerFastMathTests {
    /// The three functions through the trainer's own prologue (so the name mapping is exercised too).
    static let program: ComputeProgram = {
        let kernel = """
        __kernel void fm_eval(__global const float* x, __global float* out, const int n) {
            const int i = get_global_id(0);
            if (i >= n) return;
            out[3 * i] = expm1(x[i]);
            out[3 * i + 1] = log1p(x[i]);
            out[3 * i + 2] = erfc(x[i]);
        }
        """
        let source = PopulationProgram.fastMathPrologue + kernel + "\n" + PopulationProgram.fastMathEpilogue
        return try! TrainerFixture.device.program(source: source)
    }()

    static func evaluate(_ xs: [Float]) throws -> [(expm1: Float, log1p: Float, erfc: Float)] {
        let device = TrainerFixture.device
        let input = try device.buffer(xs)
        let output = try device.buffer(Float.self, count: 3 * xs.count)
        _ = try program.kernel("fm_eval").launch(global: [xs.count], args: input, output, Int32(xs.count))
        let o = try output.download()
        return (0..<xs.count).map { (o[3 * $0], o[3 * $0 + 1], o[3 * $0 + 2]) }
    }

    /// Error of `value` in units of the float spacing at the correctly rounded `reference`.
    static func ulps(_ value: Float, _ reference: Double) -> Double {
        let r = Float(reference)
        if value == r { return 0 }
        guard r.isFinite else { return .infinity }
        return abs(Double(value) - reference) / Double(r.magnitude.nextUp - r.magnitude)
    }

    @Test func fastFormsMatchDoubleLibm() throws {
        var xs: [Float] = stride(from: Float(-30), to: 30, by: 0.0173).map { $0 }
        var m: Float = 1e-30
        while m < 1e38 { xs += [m, -min(m, 0.999_999)]; m *= 1.37 }
        let ys = try Self.evaluate(xs)
        var worst = (expm1: 0.0, log1p: 0.0, erfc: 0.0, erfcAbsolute: 0.0)
        for (x, y) in zip(xs, ys) {
            let d = Double(x)
            worst.expm1 = max(worst.expm1, Self.ulps(y.expm1, Foundation.expm1(d)))
            if x > -1 { worst.log1p = max(worst.log1p, Self.ulps(y.log1p, Foundation.log1p(d))) }
            let e = Foundation.erfc(d)
            // Relative error down to 1e-30; below (where the device may flush denormals) relative to 1e-30.
            let err = abs(Double(y.erfc) - e)
            worst.erfc = max(worst.erfc, err / max(e, 1e-30))
            worst.erfcAbsolute = max(worst.erfcAbsolute, err)
        }
        #expect(worst.expm1 <= 3, "expm1: \(worst.expm1) ulp")
        #expect(worst.log1p <= 4, "log1p: \(worst.log1p) ulp")
        #expect(worst.erfc <= 7e-6, "erfc: relative \(worst.erfc)")
        #expect(worst.erfcAbsolute <= 4e-7, "erfc: absolute \(worst.erfcAbsolute)")
    }

    @Test func specialValuesFollowC99() throws {
        let xs: [Float] = [0, -0.0, .infinity, -.infinity, .nan, -1, -2, 100, -100]
        let ys = try Self.evaluate(xs)
        func same(_ a: Float, _ b: Float) -> Bool { (a.isNaN && b.isNaN) || (a == b && a.sign == b.sign) }
        for (x, y) in zip(xs, ys) {
            #expect(same(y.expm1, Foundation.expm1(x)), "expm1(\(x)) = \(y.expm1)")
            #expect(same(y.log1p, Foundation.log1p(x)), "log1p(\(x)) = \(y.log1p)")
            #expect(same(y.erfc, Foundation.erfc(x)), "erfc(\(x)) = \(y.erfc)")
        }
    }

    /// sinh, cosh and atan through the trainer's prologue.
    static let hyperbolicProgram: ComputeProgram = {
        let kernel = """
        __kernel void fm_hyp(__global const float* x, __global float* out, const int n) {
            const int i = get_global_id(0);
            if (i >= n) return;
            out[3 * i] = sinh(x[i]);
            out[3 * i + 1] = cosh(x[i]);
            out[3 * i + 2] = atan(x[i]);
        }
        """
        let source = PopulationProgram.fastMathPrologue + kernel + "\n" + PopulationProgram.fastMathEpilogue
        return try! TrainerFixture.device.program(source: source)
    }()

    @Test func sinhCoshAtanMatchDoubleLibmAndC99() throws {
        var xs: [Float] = stride(from: Float(-95), to: 95, by: 0.0173).map { $0 }
        var m: Float = 1e-30
        while m < 1e38 { xs += [m, -m]; m *= 1.37 }
        let special: [Float] = [0, -0.0, .infinity, -.infinity, .nan, 88, 88.5, 89.4, -89.4, 0.5, -0.5, 2.414_213_6, 0.414_213_57]
        xs += special
        let device = TrainerFixture.device
        let input = try device.buffer(xs)
        let output = try device.buffer(Float.self, count: 3 * xs.count)
        _ = try Self.hyperbolicProgram.kernel("fm_hyp").launch(global: [xs.count], args: input, output, Int32(xs.count))
        let o = try output.download()
        var worst = (sinh: 0.0, cosh: 0.0, atan: 0.0)
        func same(_ a: Float, _ b: Float) -> Bool { (a.isNaN && b.isNaN) || (a == b && a.sign == b.sign) }
        for (i, x) in xs.enumerated() {
            let d = Double(x)
            let refs = [Foundation.sinh(d), Foundation.cosh(d), Foundation.atan(d)]
            if !x.isFinite || x == 0 {
                for k in 0..<3 { #expect(same(o[3 * i + k], Float(refs[k])), "function \(k) at \(x): \(o[3 * i + k])") }
                continue
            }
            // Where the float result is subnormal the device may flush it: compare those absolutely.
            func err(_ v: Float, _ r: Double) -> Double { Float(r).magnitude < Float.leastNormalMagnitude ? 0 : Self.ulps(v, r) }
            worst.sinh = max(worst.sinh, err(o[3 * i], refs[0]))
            worst.cosh = max(worst.cosh, err(o[3 * i + 1], refs[1]))
            worst.atan = max(worst.atan, err(o[3 * i + 2], refs[2]))
        }
        #expect(worst.sinh <= 4, "sinh: \(worst.sinh) ulp")
        #expect(worst.cosh <= 4, "cosh: \(worst.cosh) ulp")
        #expect(worst.atan <= 3, "atan: \(worst.atan) ulp")
    }

    /// log, log10 and erf through the trainer's prologue.
    static let logErfProgram: ComputeProgram = {
        let kernel = """
        __kernel void fm_logerf(__global const float* x, __global float* out, const int n) {
            const int i = get_global_id(0);
            if (i >= n) return;
            out[3 * i] = log(x[i]);
            out[3 * i + 1] = log10(x[i]);
            out[3 * i + 2] = erf(x[i]);
        }
        """
        let source = PopulationProgram.fastMathPrologue + kernel + "\n" + PopulationProgram.fastMathEpilogue
        return try! TrainerFixture.device.program(source: source)
    }()

    @Test func logLog10ErfMatchDoubleLibmAndC99() throws {
        var xs: [Float] = stride(from: Float(-8), to: 8, by: 0.00731).map { $0 }
        // From a subnormal large enough that × 1.37 still moves it, up to the largest floats.
        var m: Float = 1e-43
        while m < 3e38 { xs += [m, -m, m.nextUp, m.nextDown]; m *= 1.37 }
        xs += [.leastNonzeroMagnitude, .leastNonzeroMagnitude * 3]
        xs += [0, -0.0, .infinity, -.infinity, .nan, 1, 10, 0.5, -0.5, 0.499_999_97, 100, 1e-40, 0x1p-126, 0x1p-127]
        let device = TrainerFixture.device
        let input = try device.buffer(xs)
        let output = try device.buffer(Float.self, count: 3 * xs.count)
        _ = try Self.logErfProgram.kernel("fm_logerf").launch(global: [xs.count], args: input, output, Int32(xs.count))
        let o = try output.download()
        var worst = (log: 0.0, log10: 0.0, erf: 0.0)
        func same(_ a: Float, _ b: Float) -> Bool { (a.isNaN && b.isNaN) || (a == b && a.sign == b.sign) }
        for (i, x) in xs.enumerated() {
            let d = Double(x)
            let refs = [Foundation.log(d), Foundation.log10(d), Foundation.erf(d)]
            if !x.isFinite || x <= 0 {
                // C99: log(±0) = -inf, log(x < 0) = NaN, log(inf) = inf; erf(±0) = ±0, erf(±inf) = ±1, NaN stays NaN.
                for k in 0..<2 { #expect(same(o[3 * i + k], Float(refs[k])), "log/log10 #\(k) at \(x): \(o[3 * i + k])") }
                if !x.isFinite || x == 0 { #expect(same(o[3 * i + 2], Float(refs[2])), "erf at \(x): \(o[3 * i + 2])") }
                else { worst.erf = max(worst.erf, Self.ulps(o[3 * i + 2], refs[2])) }
                continue
            }
            worst.log = max(worst.log, Self.ulps(o[3 * i], refs[0]))
            worst.log10 = max(worst.log10, Self.ulps(o[3 * i + 1], refs[1]))
            // Where erf is subnormal the device may flush it to zero.
            if Float(refs[2]).magnitude >= Float.leastNormalMagnitude { worst.erf = max(worst.erf, Self.ulps(o[3 * i + 2], refs[2])) }
        }
        #expect(worst.log <= 2, "log: \(worst.log) ulp")
        #expect(worst.log10 <= 3, "log10: \(worst.log10) ulp")
        #expect(worst.erf <= 8, "erf: \(worst.erf) ulp")
    }

    @Test func eluGeluSoftplusMishMatchReferenceFor20AdamSteps() throws {
        let spec = try MLPSpec(widths: [6, 16, 12, 3], lastLayerActivation: false)
        let data = TrainerFixture.data(rows: 64, seed: 1)
        let config = TrainingConfig(epochs: 20, learningRate: 0.01, optimizer: .adam(), seed: 11, evaluateEveryEpoch: false)
        let cands = [Candidate(activations: [.unary(.elu, .x), .unary(.gelu, .x)]),
                     Candidate(activations: [.unary(.softplus, .x), .unary(.mish, .x)])]
        let gpu = try TrainerFixture.trainer.train(candidates: cands, spec: spec, config: config, train: data).candidates
        let ref = try ReferenceTrainer().train(candidates: cands, spec: spec, config: config, train: data).candidates
        for (i, (g, r)) in zip(gpu, ref).enumerated() {
            #expect(g.history.count == 20)
            for (ge, re) in zip(g.history, r.history) {
                #expect(abs(ge.train.loss - re.train.loss) < 1e-4, "candidate \(i) epoch \(ge.epoch) loss")
            }
            for (gl, rl) in zip(g.weights.layers, r.weights.layers) {
                #expect(zip(gl.weight, rl.weight).allSatisfy { abs($0 - $1) < 1e-4 }, "candidate \(i) weights")
                #expect(zip(gl.bias, rl.bias).allSatisfy { abs($0 - $1) < 1e-4 }, "candidate \(i) biases")
            }
        }
    }
}

/// The straight-line primitive forms (OpenCLPrimitives: tanh from one exp, softplus by the atanh series,
/// Mish from one exp, branch-free sigmoid) against Double libm on a fine grid, through the project's code
/// generator and af_eval: tighter than the 1e-5 of the PyTorch fixtures, so a form that loses accuracy
/// shows here first.
extension TrainerFastMathTests {
    static let primitives: [UnaryOp] = [.tanh, .softplus, .mish, .sigmoid, .silu]
    static let primitiveProgram: ComputeProgram = {
        let exprs = primitives.map { ActivationExpr.unary($0, .x) }
        return try! TrainerFixture.device.program(source: try! ActivationCodegen.evaluationSource(for: exprs))
    }()

    static func reference(_ op: UnaryOp, _ x: Double) -> (value: Double, slope: Double) {
        let s = 1 / (1 + Foundation.exp(-x))
        switch op {
        case .tanh: let t = Foundation.tanh(x); return (t, 1 - t * t)
        case .softplus: return (x > 20 ? x : Foundation.log1p(Foundation.exp(x)), x > 20 ? 1 : s)
        case .mish:
            let t = Foundation.tanh(Foundation.log1p(Foundation.exp(x)))
            return (x * t, t + x * s * (1 - t * t))
        case .sigmoid: return (s, s * (1 - s))
        case .silu: return (x * s, s * (1 + x * (1 - s)))
        default: preconditionFailure("no reference for \(op)")
        }
    }

    @Test func straightLinePrimitivesMatchDoubleLibm() throws {
        let device = TrainerFixture.device
        let xs: [Float] = stride(from: Float(-40), to: 40, by: 0.00731).map { $0 } + [0, -0.0, 1e-30, -1e-30, 0.2499, 0.25, 15, 20]
        let count = Self.primitives.count
        let x = try device.buffer(xs), prm = try device.buffer([Float](repeating: 0, count: 1))
        let value = try device.buffer(Float.self, count: count * xs.count), slope = try device.buffer(Float.self, count: count * xs.count)
        _ = try Self.primitiveProgram.kernel("af_eval").launch(global: [xs.count, count],
                                                             args: Int32(xs.count), UInt32(0), x, prm, Int32(0), value, slope)
        let v = try value.download(), d = try slope.download()
        for (i, op) in Self.primitives.enumerated() {
            var worstValue = 0.0, worstSlope = 0.0
            for (j, xf) in xs.enumerated() {
                let ref = Self.reference(op, Double(xf))
                // Value in ulps of the reference; slope as absolute-or-relative error (it passes through 0).
                worstValue = max(worstValue, Self.ulps(v[i * xs.count + j], ref.value))
                let e = abs(Double(d[i * xs.count + j]) - ref.slope)
                worstSlope = max(worstSlope, min(e, e / abs(ref.slope)))
            }
            #expect(worstValue <= 4, "\(op) value: \(worstValue) ulp")
            #expect(worstSlope <= 1e-6, "\(op) slope: \(worstSlope)")
        }
    }

    @Test func straightLinePrimitivesKeepPyTorchsSpecialValues() throws {
        let device = TrainerFixture.device
        let xs: [Float] = [.nan, .infinity, -.infinity, -0.0, 100, -100]
        let count = Self.primitives.count
        let x = try device.buffer(xs), prm = try device.buffer([Float](repeating: 0, count: 1))
        let value = try device.buffer(Float.self, count: count * xs.count), slope = try device.buffer(Float.self, count: count * xs.count)
        _ = try Self.primitiveProgram.kernel("af_eval").launch(global: [xs.count, count],
                                                             args: Int32(xs.count), UInt32(0), x, prm, Int32(0), value, slope)
        let v = try value.download()
        func row(_ op: UnaryOp) -> ArraySlice<Float> {
            let i = Self.primitives.firstIndex(of: op)!
            return v[(i * xs.count)..<((i + 1) * xs.count)]
        }
        // NaN, ±inf and -0 exactly as torch.tanh / softplus / mish / sigmoid; ±100 as Double libm (the
        // device keeps subnormal results, as PyTorch on a CPU does).
        func expectRow(_ op: UnaryOp, _ special: [Float]) {
            let got = Array(row(op))
            for (k, s) in special.enumerated() {
                #expect((got[k].isNaN && s.isNaN) || (got[k] == s && got[k].sign == s.sign), "\(op)(\(xs[k])) = \(got[k]), expected \(s)")
            }
            for k in special.count..<xs.count {
                let ref = Self.reference(op, Double(xs[k])).value
                #expect(abs(Double(got[k]) - ref) <= max(1e-6 * abs(ref), 1e-43), "\(op)(\(xs[k])) = \(got[k]), Double \(ref)")
            }
        }
        expectRow(.tanh, [.nan, 1, -1, -0.0])
        expectRow(.softplus, [.nan, .infinity, 0, Float(Foundation.log(2.0))])
        expectRow(.mish, [.nan, .infinity, .nan, -0.0])
        expectRow(.sigmoid, [.nan, 1, 0, 0.5])
        let d = try slope.download()
        let mish = Self.primitives.firstIndex(of: .mish)! * xs.count
        // Mish' at +inf: inf · 1 · 0 in PyTorch's formula, NaN; at 100, 1.
        #expect(d[mish + 1].isNaN && d[mish + 4] == 1, "Mish' at inf and 100: \(d[mish + 1]), \(d[mish + 4])")
    }
}

/// sin, cos, tan, asin and acos (kernels/mlp_fastmath.cl) and the straight-line digamma and trigamma, through
/// the trainer's prologue, against Double libm and the Swift reference.
extension TrainerFastMathTests {
    static func trigonometryProgram(options: String = "") -> ComputeProgram {
        let kernel = """
        __kernel void fm_trig(__global const float* x, __global float* out, const int n) {
            const int i = get_global_id(0);
            if (i >= n) return;
            out[5 * i] = sin(x[i]);
            out[5 * i + 1] = cos(x[i]);
            out[5 * i + 2] = tan(x[i]);
            out[5 * i + 3] = asin(x[i]);
            out[5 * i + 4] = acos(x[i]);
        }
        __kernel void fm_polygamma(__global const float* x, __global float* out, const int n) {
            const int i = get_global_id(0);
            if (i >= n) return;
            out[2 * i] = af_fm_digamma(x[i]);
            out[2 * i + 1] = af_fm_trigamma(x[i]);
        }
        """
        let source = PopulationProgram.fastMathPrologue + kernel + "\n" + PopulationProgram.fastMathEpilogue
        return try! TrainerFixture.device.program(source: source, options: options)
    }
    static let trigonometry = trigonometryProgram()

    static func run(_ program: ComputeProgram, _ kernel: String, _ xs: [Float], width: Int) throws -> [Float] {
        let device = TrainerFixture.device
        let input = try device.buffer(xs)
        let output = try device.buffer(Float.self, count: width * xs.count)
        _ = try program.kernel(kernel).launch(global: [xs.count], args: input, output, Int32(xs.count))
        return try output.download()
    }

    static func sameFloat(_ a: Float, _ b: Float) -> Bool { (a.isNaN && b.isNaN) || (a == b && a.sign == b.sign) }

    /// Worst ulp error of sin, cos and tan over `xs` (values whose float result is subnormal are skipped:
    /// the device may flush them).
    static func trigonometryErrors(_ program: ComputeProgram, _ xs: [Float]) throws -> [Double] {
        let o = try run(program, "fm_trig", xs, width: 5)
        var worst = [0.0, 0.0, 0.0]
        for (i, x) in xs.enumerated() {
            let d = Double(x)
            for (k, r) in [Foundation.sin(d), Foundation.cos(d), Foundation.tan(d)].enumerated()
            where Float(r).magnitude >= Float.leastNormalMagnitude {
                worst[k] = max(worst[k], ulps(o[5 * i + k], r))
            }
        }
        return worst
    }

    @Test func sinCosTanMatchDoubleLibm() throws {
        var xs: [Float] = stride(from: Float(-40), to: 40, by: 0.00731).map { $0 }
        // Up to the reduction's exact range (k < 2^20: |x| < 1.6e6), and near multiples of pi/2, where the
        // reduction's cancellation is deepest.
        var m: Float = 1e-30
        while m < 1.6e6 { xs += [m, -m, m.nextUp]; m *= 1.37 }
        for k in [1, 2, 3, 4, 100, 1000, 10_000, 100_000, 1_000_000] {
            let near = Float(Double(k) * Double.pi / 2)
            xs += [near, near.nextUp, near.nextDown, -near]
            // Halfway between two multiples, where the quadrant (k from a float product) may round either
            // way and the reduced argument reaches past pi/4.
            let half = Float((Double(k) + 0.5) * Double.pi / 2)
            xs += [half, half.nextUp, half.nextDown, -half]
        }
        let worst = try Self.trigonometryErrors(Self.trigonometry, xs)
        #expect(worst[0] <= 2, "sin: \(worst[0]) ulp")
        #expect(worst[1] <= 2, "cos: \(worst[1]) ulp")
        #expect(worst[2] <= 3, "tan: \(worst[2]) ulp")
    }

    /// The float-only reduction (devices without fp64) on its exact range, |x| < 2^15.
    @Test func sinCosTanWithoutDoubleMatchOnTheirRange() throws {
        let program = Self.trigonometryProgram(options: "-DAF_FM_FLOAT_REDUCTION")
        var xs: [Float] = stride(from: Float(-40), to: 40, by: 0.00731).map { $0 }
        var m: Float = 1e-30
        while m < 32768 { xs += [m, -m]; m *= 1.37 }
        let worst = try Self.trigonometryErrors(program, xs)
        #expect(worst[0] <= 4 && worst[1] <= 4 && worst[2] <= 6, "float reduction: sin \(worst[0]), cos \(worst[1]), tan \(worst[2]) ulp")
    }

    @Test func trigonometrySpecialValuesFollowC99() throws {
        let xs: [Float] = [0, -0.0, .infinity, -.infinity, .nan, 1, -1, 1.0001, -1.0001, 0.5, -0.5, 0.500_000_06]
        let o = try Self.run(Self.trigonometry, "fm_trig", xs, width: 5)
        for (i, x) in xs.enumerated() {
            let refs = [Foundation.sin(x), Foundation.cos(x), Foundation.tan(x), Foundation.asin(x), Foundation.acos(x)]
            for k in 0..<5 {
                let got = o[5 * i + k]
                if x.isFinite && !refs[k].isNaN && x != 0 {
                    #expect(Self.ulps(got, Double(refs[k])) <= 2, "function \(k) at \(x): \(got), libm \(refs[k])")
                } else {
                    #expect(Self.sameFloat(got, refs[k]), "function \(k) at \(x): \(got), C99 \(refs[k])")
                }
            }
        }
    }

    @Test func asinAcosMatchDoubleLibm() throws {
        var xs: [Float] = stride(from: Float(-1), through: 1, by: 0.000_173).map { $0 } + [1, -1, 0.5, -0.5]
        var m: Float = 1e-30
        while m < 1 { xs += [m, -m, 1 - m, m - 1]; m *= 1.37 }
        let o = try Self.run(Self.trigonometry, "fm_trig", xs, width: 5)
        var worst = (asin: 0.0, acos: 0.0)
        for (i, x) in xs.enumerated() {
            worst.asin = max(worst.asin, Self.ulps(o[5 * i + 3], Foundation.asin(Double(x))))
            worst.acos = max(worst.acos, Self.ulps(o[5 * i + 4], Foundation.acos(Double(x))))
        }
        #expect(worst.asin <= 3, "asin: \(worst.asin) ulp")
        #expect(worst.acos <= 3, "acos: \(worst.acos) ulp")
    }

    @Test func digammaTrigammaMatchTheDoubleReference() throws {
        var xs: [Float] = stride(from: Float(-20), to: 30, by: 0.003_17).map { $0 }
        var m: Float = 1e-30
        while m < 1e30 { xs += [m, -m * 1.0001]; m *= 1.37 }
        xs += [1.461_632_1, 0.5, -0.5, -2.5, 1e-3, -1e-3]
        let o = try Self.run(Self.trigonometry, "fm_polygamma", xs, width: 2)
        var worst = (digamma: 0.0, trigamma: 0.0)
        for (i, x) in xs.enumerated() {
            let d = Double(x)
            // Relative error, absolute below 1 (both pass through zero: digamma at 1.46 and between poles).
            func err(_ v: Float, _ r: Double) -> Double {
                guard r.isFinite, abs(r) < Double(Float.greatestFiniteMagnitude) else { return 0 }
                return abs(Double(v) - r) / max(abs(r), 1)
            }
            worst.digamma = max(worst.digamma, err(o[2 * i], ReferencePrimitives.digamma(d)))
            // Below 1/2 trigamma reflects through sin of the float product pi x, as PyTorch forms it (its huge
            // finite values at the poles): the reference takes the same product (with M_PI_F, pi rounded to
            // nearest; Swift's Float.pi is rounded down).
            let sinPiX = Foundation.sin(Double(Float(Double.pi) * x))
            let trigamma = x >= 0.5 ? ReferencePrimitives.trigamma(d) : Double.pi * Double.pi / (sinPiX * sinPiX) - ReferencePrimitives.trigamma(1 - d)
            // (pi x within sin's exact reduction, |pi x| < 1.6e6; PyTorch's value beyond is as arbitrary.)
            if abs(x) < 5e5 { worst.trigamma = max(worst.trigamma, err(o[2 * i + 1], trigamma)) }
        }
        #expect(worst.digamma <= 2e-6, "digamma: \(worst.digamma)")
        #expect(worst.trigamma <= 2e-6, "trigamma: \(worst.trigamma)")
        let special: [Float] = [0, -0.0, .infinity, -.infinity, .nan, -1, -2, -1e9]
        let s = try Self.run(Self.trigonometry, "fm_polygamma", special, width: 2)
        let expected: [Float] = [-.infinity, .infinity, .infinity, .nan, .nan, .nan, .nan, .nan]
        for (i, x) in special.enumerated() {
            #expect(Self.sameFloat(s[2 * i], expected[i]), "digamma(\(x)) = \(s[2 * i])")
        }
        #expect(s[5] == 0 && s[7].isNaN && s[9].isNaN, "trigamma at inf, -inf, NaN: \(s[5]), \(s[7]), \(s[9])")
    }
}
