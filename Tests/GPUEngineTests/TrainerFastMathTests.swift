import Foundation
import Testing
import Kernels
@testable import GPUEngine

/// The trainer's program maps `expm1`, `log1p` and `erfc` onto kernels/mlp_fastmath.cl. These tests hold
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
