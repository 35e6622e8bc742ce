import Foundation
import GPUEngine
import Kernels

/// Runs generated activation code on the OpenCL device (PoCL here): one program for many expressions,
/// evaluated at a grid of inputs through the af_eval kernels of kernels/af_eval.cl.
final class DeviceGrid: @unchecked Sendable {
    let exprs: [ActivationExpr]
    let program: ComputeProgram
    let device: ComputeDevice
    let stride: Int
    /// Wall time of the program build (or cache hit).
    let buildSeconds: Double

    /// `options` go to the OpenCL compiler (never -cl-fast-relaxed-math: it drops the NaN/inf semantics).
    init(_ exprs: [ActivationExpr], options: String = "") throws {
        self.exprs = exprs
        device = try ComputeDevice.select(nil)
        let start = Date()
        program = try device.program(source: try ActivationCodegen.evaluationSource(for: exprs), options: options)
        buildSeconds = Date().timeIntervalSince(start)
        stride = max(1, exprs.map(\.parameterCount).max() ?? 0)
    }

    struct Result {
        /// [expression][point]
        var value: [[Float]]
        var slope: [[Float]]
    }

    /// Parameters default to each expression's initial values.
    func evaluate(at xs: [Float], key: UInt32 = 0, parameters: [[Float]]? = nil) throws -> Result {
        let n = xs.count, count = exprs.count
        let x = try device.buffer(xs)
        let prm = try device.buffer(parameterBlock(parameters))
        let value = try device.buffer(Float.self, count: n * count)
        let slope = try device.buffer(Float.self, count: n * count)
        _ = try program.kernel("af_eval").launch(
            global: [n, count], local: nil,
            args: Int32(n), key, x, prm, Int32(stride), value, slope)
        let v = try value.download(), s = try slope.download()
        return Result(value: (0..<count).map { Array(v[$0 * n..<($0 + 1) * n]) },
                      slope: (0..<count).map { Array(s[$0 * n..<($0 + 1) * n]) })
    }

    /// As `evaluate` through the float4 forms (program built with -DAF_VECTOR_FUNCTIONS); xs.count % 4 == 0.
    func evaluateVector4(at xs: [Float], key: UInt32 = 0) throws -> Result {
        precondition(xs.count % 4 == 0)
        let n = xs.count, count = exprs.count
        let x = try device.buffer(xs)
        let prm = try device.buffer(parameterBlock(nil))
        let value = try device.buffer(Float.self, count: n * count)
        let slope = try device.buffer(Float.self, count: n * count)
        _ = try program.kernel("af_eval4").launch(
            global: [n / 4, count], local: nil, args: Int32(n / 4), key, x, prm, Int32(stride), value, slope)
        let v = try value.download(), s = try slope.download()
        return Result(value: (0..<count).map { Array(v[$0 * n..<($0 + 1) * n]) },
                      slope: (0..<count).map { Array(s[$0 * n..<($0 + 1) * n]) })
    }

    /// df/d(parameter k) for every expression at every point.
    func parameterSlope(_ k: Int, at xs: [Float], key: UInt32 = 0, parameters: [[Float]]? = nil) throws -> [[Float]] {
        let n = xs.count, count = exprs.count
        let x = try device.buffer(xs)
        let prm = try device.buffer(parameterBlock(parameters))
        let out = try device.buffer(Float.self, count: n * count)
        _ = try program.kernel("af_eval_dparam").launch(
            global: [n, count], local: nil, args: Int32(n), key, Int32(k), x, prm, Int32(stride), out)
        let d = try out.download()
        return (0..<count).map { Array(d[$0 * n..<($0 + 1) * n]) }
    }

    private func parameterBlock(_ parameters: [[Float]]?) -> [Float] {
        var block = [Float](repeating: 0, count: exprs.count * stride)
        for (i, e) in exprs.enumerated() {
            let values = parameters?[i] ?? e.parameters.map { Float($0.initial) }
            for (k, v) in values.enumerated() { block[i * stride + k] = v }
        }
        return block
    }
}

/// |a − b| ≤ tol, or ≤ tol·|b|; NaN only matches NaN, infinities match the same infinity.
func close(_ a: Double, _ b: Double, tolerance: Double = 1e-5) -> Bool {
    if a.isNaN || b.isNaN { return a.isNaN && b.isNaN }
    if a.isInfinite || b.isInfinite { return a == b }
    let d = abs(a - b)
    return d <= tolerance || d <= tolerance * abs(b)
}

enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/activations")

    /// Rows of a tab-separated fixture, comments and the header skipped.
    static func rows(_ name: String) throws -> [[String]] {
        let text = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
        return text.split(separator: "\n").dropFirst(0).filter { !$0.hasPrefix("#") }.dropFirst()
            .map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
    }
}
