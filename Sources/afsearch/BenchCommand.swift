import ArgumentParser
import Foundation
import GPUEngine

/// `afsearch bench gemm|train`: throughput against the device's limit (see bench/README.md).
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure kernel and training throughput against the device's measured GEMM peak.",
        subcommands: [BenchGEMMCommand.self]
    )
}

struct BenchDeviceOptions: ParsableArguments {
    /// Device index or name substring (see `afsearch devices`); default: $AFSEARCH_DEVICE, else the first GPU, else the first CPU.
    @Option(name: .long, help: "Device index or name substring (default: $AFSEARCH_DEVICE, else first GPU, else first CPU).")
    var device: String?

    /// Print one JSON object instead of the table.
    @Flag(name: .long, help: "Print one JSON object instead of text.")
    var json = false
}

/// A GEMM shape on the command line: `BATCHxMxNxK`.
struct GEMMShapeArgument: ExpressibleByArgument {
    let shape: GEMMShape
    init?(argument: String) {
        let parts = argument.lowercased().split(separator: "x").compactMap { Int($0) }
        guard parts.count == 4, parts.allSatisfy({ $0 > 0 }) else { return nil }
        shape = GEMMShape(batch: parts[0], m: parts[1], n: parts[2], k: parts[3])
    }
    static var defaultCompletionKind: CompletionKind { .default }
}

/// The device's measured GEMM peak: the best tile of the sweep on each shape; the peak is the best of all.
struct GEMMPeakSummary: Codable {
    var device: String
    var theoreticalEstimateGFLOPs: Double?
    var perShape: [ShapeBest]
    var peakGFLOPs: Double
    struct ShapeBest: Codable {
        var shape: String
        var tile: String
        var gflops: Double
        var tilesTried: Int
        var relativeError: Double
    }

    static func measure(device: ComputeDevice, shapes: [GEMMShape], repetitions: Int, quick: Bool,
                        log: ((String) -> Void)?) throws -> GEMMPeakSummary {
        let search = GEMMPeakSearch(device: device)
        var best: [ShapeBest] = []
        for shape in shapes {
            var tiles = GEMMTile.sweep(for: device.peakHint)
            if quick { tiles = tiles.filter { $0.vectorWidth == 16 && $0.rows >= 4 && $0.local == nil } }
            let results = try search.sweep(shape, tiles: tiles.isEmpty ? nil : tiles, repetitions: repetitions) { m in
                log?(String(format: "  %-28@ %-34@ %8.1f GFLOP/s", m.shape.description, m.tile.description, m.gflops))
            }
            let top = results[0]
            best.append(ShapeBest(shape: shape.description, tile: top.tile.description, gflops: top.gflops,
                                  tilesTried: results.count, relativeError: top.relativeError))
        }
        return GEMMPeakSummary(device: device.info.name,
                               theoreticalEstimateGFLOPs: GEMMPeakSearch.theoreticalPeakEstimate(device.peakHint),
                               perShape: best, peakGFLOPs: best.map(\.gflops).max() ?? 0)
    }

    func printText() {
        print("device: \(device)")
        for s in perShape {
            print(String(format: "  best on %@: %.1f GFLOP/s with tile %@ (%d tiles tried)", s.shape, s.gflops, s.tile, s.tilesTried))
        }
        print(String(format: "measured GEMM peak: %.1f GFLOP/s", peakGFLOPs))
        if let t = theoreticalEstimateGFLOPs {
            print(String(format: "theoretical estimate: %.0f GFLOP/s (CUs × clock × vector width × 4; an upper bound) — measured is %.0f%% of it",
                         t, 100 * peakGFLOPs / t))
        }
    }
}

func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

struct BenchGEMMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemm",
        abstract: "Measure the device's achievable FP32 rate: a plain batched GEMM at its best tile over a sweep."
    )

    @OptionGroup var common: BenchDeviceOptions

    /// Shapes as BATCHxMxNxK (repeatable). Default: 64x1024x64x64 (study-1 layer of a population of 64) and 16x1024x256x256.
    @Option(name: .long, help: "GEMM shape BATCHxMxNxK, repeatable (default: 64x1024x64x64 and 16x1024x256x256).")
    var shape: [GEMMShapeArgument] = []

    @Option(name: .long, help: "Timed launches per tile; the fastest counts.")
    var repetitions = 5

    /// Try only the float16 tiles with 4 or 8 rows (fast; usually the best on AVX-512 CPUs).
    @Flag(name: .long, help: "Sweep only a few tiles (float16 vectors, 4–8 rows).")
    var quick = false

    /// Print every tile's rate, not only the best.
    @Flag(name: .long, help: "Print every tile's rate.")
    var verbose = false

    func run() async throws {
        guard repetitions >= 1 else { throw ValidationError("--repetitions must be at least 1, got \(repetitions)") }
        let device = try ComputeDevice.select(common.device)
        let shapes = shape.isEmpty ? [GEMMShape.study1Layer, .square256] : shape.map(\.shape)
        let summary = try GEMMPeakSummary.measure(device: device, shapes: shapes, repetitions: repetitions, quick: quick,
                                                  log: verbose && !common.json ? { print($0) } : nil)
        if common.json { try printJSON(summary) } else { summary.printText() }
    }
}
