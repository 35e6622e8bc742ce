import Foundation
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

    @Test func theoreticalEstimateOnlyForCPUs() throws {
        let device = try Self.device.get()
        var hint = device.peakHint
        hint.kind = .cpu; hint.computeUnits = 2; hint.maxClockMHz = 2500; hint.preferredFloatVectorWidth = 16
        #expect(GEMMPeakSearch.theoreticalPeakEstimate(hint) == 2 * 2.5 * 16 * 4)
        hint.kind = .gpu
        #expect(GEMMPeakSearch.theoreticalPeakEstimate(hint) == nil)
    }
}
