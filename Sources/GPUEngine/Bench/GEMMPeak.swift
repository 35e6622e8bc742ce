import Foundation
import Kernels

/// A batched GEMM problem: `batch` independent products of an `m × k` and a `k × n` matrix.
public struct GEMMShape: Sendable, Hashable, CustomStringConvertible, Codable {
    public var batch: Int
    public var m: Int
    public var n: Int
    public var k: Int

    public init(batch: Int, m: Int, n: Int, k: Int) {
        self.batch = batch
        self.m = m
        self.n = n
        self.k = k
    }

    /// One multiply and one add per inner-product term.
    public var flops: Double { 2 * Double(batch) * Double(m) * Double(n) * Double(k) }
    public var description: String { "\(batch)×[\(m)×\(k)]·[\(k)×\(n)]" }

    /// The study-1 layer GEMM of a population of 64: 1024 rows (the batch) through a 64→64 layer.
    public static let study1Layer = GEMMShape(batch: 64, m: 1024, n: 64, k: 64)
    /// A larger, squarer product that reaches closer to the arithmetic limit.
    public static let square256 = GEMMShape(batch: 16, m: 1024, n: 256, k: 256)
}

/// One register-tile configuration of `kernels/bench_gemm.cl`: each work-item computes `rows` rows by
/// `vectorWidth · vectorsPerRow` columns of C.
public struct GEMMTile: Sendable, Hashable, CustomStringConvertible, Codable {
    public var rows: Int
    public var vectorWidth: Int
    public var vectorsPerRow: Int
    /// Work-group size, nil to let the driver choose (best on PoCL).
    public var local: [Int]?

    public init(rows: Int, vectorWidth: Int, vectorsPerRow: Int, local: [Int]? = nil) {
        self.rows = rows
        self.vectorWidth = vectorWidth
        self.vectorsPerRow = vectorsPerRow
        self.local = local
    }

    public var columns: Int { vectorWidth * vectorsPerRow }
    public var buildOptions: String {
        "-cl-fast-relaxed-math -DTILE_ROWS=\(rows) -DVEC_WIDTH=\(vectorWidth) -DVECS_PER_ROW=\(vectorsPerRow)"
    }
    public var description: String {
        "\(rows)×\(columns) (float\(vectorWidth)×\(vectorsPerRow))" + (local.map { " local \($0.map(String.init).joined(separator: "×"))" } ?? "")
    }

    public func fits(_ shape: GEMMShape) -> Bool {
        shape.m % rows == 0 && shape.n % columns == 0 && (local.map { l in
            l.count == 3 && (shape.n / columns) % l[0] == 0 && (shape.m / rows) % l[1] == 0 && shape.batch % l[2] == 0
        } ?? true)
    }

    /// The sweep: register tiles up to 8 rows × 64 columns, vectors of 4, 8 and 16 floats. On GPUs, a few
    /// explicit work-group shapes as well.
    public static func sweep(for hint: PeakHint) -> [GEMMTile] {
        var tiles: [GEMMTile] = []
        for width in [4, 8, 16] {
            for rows in [2, 4, 8] {
                for vectors in [1, 2, 4] where width * vectors <= 64 && rows * width * vectors <= 512 {
                    tiles.append(GEMMTile(rows: rows, vectorWidth: width, vectorsPerRow: vectors))
                    if hint.kind == .gpu {
                        for local in [[16, 8, 1], [8, 8, 1], [4, 16, 1]] where local.reduce(1, *) <= hint.maxWorkGroupSize {
                            tiles.append(GEMMTile(rows: rows, vectorWidth: width, vectorsPerRow: vectors, local: local))
                        }
                    }
                }
            }
        }
        return tiles
    }
}

public struct GEMMMeasurement: Sendable, Codable {
    public var tile: GEMMTile
    public var shape: GEMMShape
    /// Best (smallest) wall time of one launch over the repetitions.
    public var seconds: Double
    public var gflops: Double { shape.flops / seconds / 1e9 }
    /// Largest |C − reference| over the checked entries, relative to the largest |reference| among them.
    public var relativeError: Double
}

public enum GEMMBenchError: Error, CustomStringConvertible {
    case tileDoesNotFit(GEMMTile, GEMMShape)
    case wrongResult(GEMMTile, GEMMShape, relativeError: Double)
    case noTileFits(GEMMShape)

    public var description: String {
        switch self {
        case .tileDoesNotFit(let t, let s): "GEMM tile \(t) does not divide the shape \(s)"
        case .wrongResult(let t, let s, let e): "GEMM tile \(t) on \(s) computed a wrong product (relative error \(e))"
        case .noTileFits(let s): "no tile of the sweep divides the shape \(s); use m divisible by 8 and n by 16"
        }
    }
}

/// Measures the device's achievable FP32 rate with `kernels/bench_gemm.cl` at the best tile of a sweep.
///
/// Every measured configuration is also checked against a Double-precision product on a sample of
/// entries, so a fast but wrong tile can never be reported as the peak.
public struct GEMMPeakSearch {
    public let device: ComputeDevice

    public init(device: ComputeDevice) {
        self.device = device
    }

    /// Inputs for a shape, uniform in [−1, 1) from a fixed seed.
    public final class Operands {
        public let shape: GEMMShape
        public let a: [Float], b: [Float]
        let aBuffer: DeviceBuffer<Float>, bBuffer: DeviceBuffer<Float>, cBuffer: DeviceBuffer<Float>

        init(shape: GEMMShape, device: ComputeDevice) throws {
            self.shape = shape
            let seed: UInt64 = 0xB0A7_6E33
            a = (0..<(shape.batch * shape.m * shape.k)).map { Float(CounterRNG.uniform(seed: seed, stream: 0, counter: UInt64($0)) * 2 - 1) }
            b = (0..<(shape.batch * shape.k * shape.n)).map { Float(CounterRNG.uniform(seed: seed, stream: 1, counter: UInt64($0)) * 2 - 1) }
            aBuffer = try device.buffer(a)
            bBuffer = try device.buffer(b)
            cBuffer = try device.buffer(Float.self, count: shape.batch * shape.m * shape.n)
        }
    }

    public func operands(for shape: GEMMShape) throws -> Operands { try Operands(shape: shape, device: device) }

    /// Times `repetitions` launches (after one warm-up launch) and keeps the fastest.
    public func measure(_ tile: GEMMTile, on operands: Operands, repetitions: Int = 5) throws -> GEMMMeasurement {
        let shape = operands.shape
        guard tile.fits(shape) else { throw GEMMBenchError.tileDoesNotFit(tile, shape) }
        let program = try device.program(source: KernelTemplates.bench_gemm, options: tile.buildOptions)
        let kernel = try program.kernel("gemm_tile")
        let global = [shape.n / tile.columns, shape.m / tile.rows, shape.batch]
        func launch() throws {
            _ = try kernel.launch(global: global, local: tile.local, args: Int32(shape.m), Int32(shape.n), Int32(shape.k),
                                  operands.aBuffer, operands.bBuffer, operands.cBuffer)
        }
        try operands.cBuffer.fill(.nan)
        try launch()
        try device.finish()
        let error = try relativeError(operands)
        guard error < 1e-4 else { throw GEMMBenchError.wrongResult(tile, shape, relativeError: error) }
        var best = Double.infinity
        for _ in 0..<max(1, repetitions) {
            let start = DispatchTime.now().uptimeNanoseconds
            try launch()
            try device.finish()
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        return GEMMMeasurement(tile: tile, shape: shape, seconds: best, relativeError: error)
    }

    /// Compares about 4096 entries of C, spread over every batch entry, with a Double product.
    func relativeError(_ o: Operands) throws -> Double {
        let s = o.shape
        let c = try o.cBuffer.download()
        let total = s.batch * s.m * s.n
        let step = max(1, total / 4096) | 1
        var worst = 0.0, scale = 0.0
        var index = 0
        while index < total {
            let p = index / (s.m * s.n), row = (index / s.n) % s.m, col = index % s.n
            var sum = 0.0
            for kk in 0..<s.k {
                sum += Double(o.a[(p * s.m + row) * s.k + kk]) * Double(o.b[(p * s.k + kk) * s.n + col])
            }
            worst = max(worst, abs(Double(c[index]) - sum))
            if c[index].isNaN { return .infinity }
            scale = max(scale, abs(sum))
            index += step
        }
        return worst / max(scale, 1e-30)
    }

    /// Measures every tile of the sweep that fits and returns the measurements, fastest first.
    /// `progress` sees each measurement as it completes.
    public func sweep(_ shape: GEMMShape, tiles: [GEMMTile]? = nil, repetitions: Int = 5,
                      progress: (GEMMMeasurement) -> Void = { _ in }) throws -> [GEMMMeasurement] {
        let candidates = (tiles ?? GEMMTile.sweep(for: device.peakHint)).filter { $0.fits(shape) }
        guard !candidates.isEmpty else { throw GEMMBenchError.noTileFits(shape) }
        let operands = try operands(for: shape)
        var results: [GEMMMeasurement] = []
        for tile in candidates {
            let m = try measure(tile, on: operands, repetitions: repetitions)
            progress(m)
            results.append(m)
        }
        return results.sorted { $0.seconds < $1.seconds }
    }

    /// A rough upper bound in GFLOP/s for CPU devices: compute units × max clock × preferred float vector
    /// width × 2 (an FMA is two FLOPs) × 2 (two FMA pipes per core, as on recent x86 cores). It overstates
    /// cores whose wide vectors run on half-width pipes (AMD Zen 4's AVX-512) and ignores turbo clocks, so
    /// read it as an order of magnitude. nil for GPUs and others, whose per-unit lane counts OpenCL does not report.
    public static func theoreticalPeakEstimate(_ hint: PeakHint) -> Double? {
        guard hint.kind == .cpu, hint.maxClockMHz > 0 else { return nil }
        return Double(hint.computeUnits) * Double(hint.maxClockMHz) / 1000 * Double(max(1, hint.preferredFloatVectorWidth)) * 4
    }
}
