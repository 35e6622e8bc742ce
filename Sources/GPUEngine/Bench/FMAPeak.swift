import Foundation
import Kernels

/// The device's measured FP32 FMA throughput (`kernels/bench_fma.cl`): independent fma chains at the best of a
/// few vector widths and chain counts. It is the arithmetic ceiling that `afsearch bench gemm` reports the GEMM
/// peak against, measured because OpenCL reports no lane or pipe counts to compute one from (the theoretical
/// estimate overstates Zen 4's AVX-512, which runs on 256-bit pipes).
///
/// Every launch's results are checked against the recurrence's closed form, so a kernel the compiler shortened
/// can never be reported as the peak.
public struct FMAPeak: Sendable, Codable {
    public var vectorWidth: Int
    public var chains: Int
    public var gflops: Double

    public enum Failure: Error, CustomStringConvertible {
        case wrongResult(vectorWidth: Int, chains: Int, workItem: Int, got: Float, expected: Double)
        public var description: String {
            switch self {
            case let .wrongResult(w, c, i, got, expected):
                "FMA peak kernel (float\(w), \(c) chains) computed \(got) at work-item \(i), expected \(expected)"
            }
        }
    }

    static let scale: Float = 0.999, shift: Float = 0.001

    /// The sum a work-item writes: CHAINS chains of `width` lanes, chain c starting at (gid mod 8)/8 + c/16,
    /// after `iterations` steps of x ← scale · x + shift, whose closed form is scaleⁿ x₀ + shift (1 − scaleⁿ) / (1 − scale).
    static func expected(workItem: Int, width: Int, chains: Int, iterations: Int) -> Double {
        let s = Double(scale), t = Double(shift), sn = pow(s, Double(iterations))
        let fixed = t * (1 - sn) / (1 - s)
        var sum = 0.0
        for c in 0..<chains {
            let start: Double = Double(workItem % 8) * 0.125 + Double(c) * 0.0625
            sum += Double(width) * (sn * start + fixed)
        }
        return sum
    }

    /// Measures every width × chain count, each launch sized to run at least `minimumSeconds`, best of
    /// `repetitions`; returns the fastest first.
    public static func measure(device: ComputeDevice, widths: [Int] = [1, 4, 8, 16], chainCounts: [Int] = [8, 16],
                               repetitions: Int = 3, minimumSeconds: Double = 0.05) throws -> [FMAPeak] {
        let hint = device.peakHint
        let workItems = max(1, hint.computeUnits) * (hint.kind == .gpu ? 4096 : 256)
        let out = try device.buffer(Float.self, count: workItems)
        var results: [FMAPeak] = []
        for width in widths {
            for chains in chainCounts {
                let program = try device.program(source: KernelTemplates.bench_fma,
                                                 options: "-cl-fast-relaxed-math -DVEC_WIDTH=\(width) -DCHAINS=\(chains)")
                let kernel = try program.kernel("fma_peak")
                func timed(_ iterations: Int) throws -> Double {
                    let start = DispatchTime.now().uptimeNanoseconds
                    _ = try kernel.launch(global: [workItems], args: Int32(iterations), scale, shift, out)
                    try device.finish()
                    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                }
                var iterations = 64
                _ = try timed(iterations)
                while try timed(iterations) < minimumSeconds, iterations < 1 << 24 { iterations *= 2 }
                let values = try out.download()
                for i in Set([0, 1, 7, workItems / 2, workItems - 1]) {
                    let want = expected(workItem: i, width: width, chains: chains, iterations: iterations)
                    guard abs(Double(values[i]) - want) <= 1e-3 * abs(want) else {
                        throw Failure.wrongResult(vectorWidth: width, chains: chains, workItem: i, got: values[i], expected: want)
                    }
                }
                var best = Double.infinity
                for _ in 0..<max(1, repetitions) { best = min(best, try timed(iterations)) }
                let flops = 2 * Double(workItems) * Double(iterations) * Double(chains * width)
                results.append(FMAPeak(vectorWidth: width, chains: chains, gflops: flops / best / 1e9))
            }
        }
        return results.sorted { $0.gflops > $1.gflops }
    }
}
