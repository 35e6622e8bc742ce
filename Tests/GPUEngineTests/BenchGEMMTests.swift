import Foundation
import Kernels
import Testing
@testable import GPUEngine

/// The GEMM peak kernel on the real OpenCL device (PoCL in CI): a tile that computes a wrong product must
/// never be measured as the peak, so each tile is checked against a plain Double product here.
@Suite struct BenchGEMMTests {
    static let device = Result { try ComputeDevice.select(nil) }

    @Test(arguments: [
        GEMMTile(rows: 2, vectorWidth: 4, vectorsPerRow: 1),
        GEMMTile(rows: 4, vectorWidth: 8, vectorsPerRow: 2),
        GEMMTile(rows: 8, vectorWidth: 16, vectorsPerRow: 1),
        GEMMTile(rows: 4, vectorWidth: 16, vectorsPerRow: 4),
    ])
    func tileComputesTheBatchedProduct(tile: GEMMTile) throws {
        let device = try Self.device.get()
        let shape = GEMMShape(batch: 3, m: 16, n: 64, k: 9)  // odd k: no assumption on the inner length
        let search = GEMMPeakSearch(device: device)
        let operands = try search.operands(for: shape)
        let m = try search.measure(tile, on: operands, repetitions: 1)
        #expect(m.relativeError < 1e-5)
        #expect(m.gflops > 0 && m.gflops.isFinite)

        // Independently of the sampled check inside `measure`: every entry of every batch.
        let c = try operands.cBuffer.download()
        var worst = 0.0
        for p in 0..<shape.batch {
            for i in 0..<shape.m {
                for j in 0..<shape.n {
                    var s = 0.0
                    for k in 0..<shape.k { s += Double(operands.a[(p * shape.m + i) * shape.k + k]) * Double(operands.b[(p * shape.k + k) * shape.n + j]) }
                    worst = max(worst, abs(s - Double(c[(p * shape.m + i) * shape.n + j])))
                }
            }
        }
        #expect(worst < 1e-5, "tile \(tile): max abs error \(worst)")
    }

    @Test func tilesThatDoNotDivideTheShapeAreRefusedAndSkipped() throws {
        let shape = GEMMShape(batch: 1, m: 12, n: 32, k: 4)
        #expect(!GEMMTile(rows: 8, vectorWidth: 4, vectorsPerRow: 1).fits(shape))   // 12 % 8
        #expect(!GEMMTile(rows: 4, vectorWidth: 16, vectorsPerRow: 4).fits(shape))  // 32 % 64
        #expect(GEMMTile(rows: 4, vectorWidth: 8, vectorsPerRow: 4).fits(shape))
        let device = try Self.device.get()
        let search = GEMMPeakSearch(device: device)
        #expect(throws: GEMMBenchError.self) {
            try search.measure(GEMMTile(rows: 8, vectorWidth: 4, vectorsPerRow: 1), on: try search.operands(for: shape))
        }
        #expect(throws: GEMMBenchError.self) {
            try search.sweep(shape, tiles: [GEMMTile(rows: 8, vectorWidth: 16, vectorsPerRow: 1)])
        }
    }

    /// The FMA peak kernel computes the recurrence whose closed form `FMAPeak.measure` checks each launch against,
    /// and the closed form is the recurrence's.
    @Test func fmaPeakKernelComputesTheRecurrenceItIsCheckedAgainst() throws {
        // The closed form against the recurrence stepped in Double: work-item 5, float4, 3 chains, 37 steps.
        var stepped = 0.0
        for c in 0..<3 {
            var x = Double(5 % 8) * 0.125 + Double(c) * 0.0625
            for _ in 0..<37 { x = x * Double(FMAPeak.scale) + Double(FMAPeak.shift) }
            stepped += 4 * x
        }
        #expect(abs(FMAPeak.expected(workItem: 5, width: 4, chains: 3, iterations: 37) - stepped) < 1e-12)

        let device = try Self.device.get()
        for (width, chains) in [(1, 8), (16, 3)] {
            let program = try device.program(source: KernelTemplates.bench_fma, options: "-DVEC_WIDTH=\(width) -DCHAINS=\(chains)")
            let out = try device.buffer(Float.self, count: 24)
            _ = try program.kernel("fma_peak").launch(global: [24], args: Int32(50), FMAPeak.scale, FMAPeak.shift, out)
            let values = try out.download()
            for (i, v) in values.enumerated() {
                let want = FMAPeak.expected(workItem: i, width: width, chains: chains, iterations: 50)
                #expect(abs(Double(v) - want) < 1e-5 * abs(want), "float\(width) × \(chains), work-item \(i): \(v) against \(want)")
            }
        }
        let peaks = try FMAPeak.measure(device: device, widths: [1, 8], chainCounts: [8], repetitions: 1, minimumSeconds: 0.002)
        #expect(peaks.count == 2 && peaks.allSatisfy { $0.gflops > 0 && $0.gflops.isFinite })
        #expect(peaks[0].gflops >= peaks[1].gflops)
    }

    @Test func theoreticalEstimateOnlyForCPUs() throws {
        let device = try Self.device.get()
        var hint = device.peakHint
        hint.kind = .cpu; hint.computeUnits = 2; hint.maxClockMHz = 2500; hint.preferredFloatVectorWidth = 16
        #expect(GEMMPeakSearch.theoreticalPeakEstimate(hint) == 2 * 2.5 * 16 * 4)
        hint.kind = .gpu
        #expect(GEMMPeakSearch.theoreticalPeakEstimate(hint) == nil)
    }
}
