import ArgumentParser
import Foundation
import GPUEngine
import Kernels

/// `afsearch bench gemm|train|alacarte|activations|storage`: throughput against the device's limit and the peers (see bench/README.md).
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure kernel and training throughput against the device's measured GEMM peak.",
        subcommands: [BenchTrainCommand.self, BenchGEMMCommand.self, BenchAlacarteCommand.self, BenchActivationsCommand.self, BenchStorageCommand.self],
        defaultSubcommand: BenchTrainCommand.self
    )
}

/// What every `bench` subcommand takes: the device and `--json`.
struct BenchOptions: ParsableArguments {
    @OptionGroup var deviceOptions: DeviceSelectionOptions

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
    /// The measured FP32 FMA throughput (`FMAPeak`): the arithmetic ceiling.
    var fmaPeak: FMAPeak?
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
                log?("  " + benchPadded(m.shape.description, 26, left: true) + " " + benchPadded(m.tile.description, 34, left: true)
                     + String(format: " %8.1f GFLOP/s", m.gflops))
            }
            let top = results[0]
            best.append(ShapeBest(shape: shape.description, tile: top.tile.description, gflops: top.gflops,
                                  tilesTried: results.count, relativeError: top.relativeError))
        }
        return GEMMPeakSummary(device: device.info.name,
                               theoreticalEstimateGFLOPs: GEMMPeakSearch.theoreticalPeakEstimate(device.peakHint),
                               fmaPeak: try FMAPeak.measure(device: device).first,
                               perShape: best, peakGFLOPs: best.map(\.gflops).max() ?? 0)
    }

    /// `device`: print the device line first (`bench train` has printed it already).
    func printText(device printsDevice: Bool = true) {
        if printsDevice { print("device: \(device)") }
        for s in perShape {
            print(String(format: "  best on %@: %.1f GFLOP/s with tile %@ (%d tiles tried)", s.shape, s.gflops, s.tile, s.tilesTried))
        }
        print(String(format: "measured GEMM peak: %.1f GFLOP/s", peakGFLOPs))
        if let f = fmaPeak {
            print(String(format: "measured FMA peak: %.1f GFLOP/s (independent fma chains, float%d × %d) — the GEMM peak is %.0f%% of it",
                         f.gflops, f.vectorWidth, f.chains, 100 * peakGFLOPs / f.gflops))
        }
        if let t = theoreticalEstimateGFLOPs {
            print(String(format: "theoretical estimate: %.0f GFLOP/s (CUs × clock × vector width × 4; an upper bound) — measured is %.0f%% of it",
                         t, 100 * peakGFLOPs / t))
        }
    }
}

/// Pads to `width` characters (String(format:) ignores widths on %@ with Swift strings on Linux).
func benchPadded(_ text: String, _ width: Int, left: Bool = false) -> String {
    let fill = String(repeating: " ", count: max(0, width - text.count))
    return left ? text + fill : fill + text
}

struct BenchGEMMCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemm",
        abstract: "Measure the device's achievable FP32 rate: a plain batched GEMM at its best tile over a sweep."
    )

    @OptionGroup var common: BenchOptions

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

    @OptionGroup var tuning: GEMMTuneOptions

    func run() async throws {
        guard repetitions >= 1 else { throw ValidationError("--repetitions must be at least 1, got \(repetitions)") }
        try tuning.validate()
        let device = try common.deviceOptions.select()
        if tuning.tune { return try tuning.run(device: device, json: common.json) }
        let shapes = shape.isEmpty ? [GEMMShape.study1Layer, .square256] : shape.map(\.shape)
        // Every tile's rate with --verbose; otherwise, on a terminal, a progress line while the sweep runs.
        let line = ProgressLine(enabled: !common.json && !verbose && isatty(STDERR_FILENO) != 0)
        let summary = try GEMMPeakSummary.measure(device: device, shapes: shapes, repetitions: repetitions, quick: quick,
                                                  log: common.json ? nil : verbose ? { print($0) } : { line.update("sweeping: \($0)") })
        line.finish()
        if common.json { try JSONOutput.print(summary, layout: .line) } else { summary.printText() }
    }
}

struct BenchTrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Study 1's workload on the population trainer: candidate-epochs/s, GFLOP/s, share of the measured GEMM peak.",
        discussion: """
        P candidates of L Linear layers (20→64→…→64→10), n synthetic samples, full-batch Adam lr 1e-3, candidate i \
        using activation i mod 8 of relu, tanh, sigmoid, elu, silu, gelu, softplus, mish. FLOPs per \
        candidate-epoch: 6·n·W (W = weights + biases of one network), as bench/peers count them. A warm-up run \
        builds the program first; the timed run is one whole `train` call. The GEMM peak is measured first by \
        the same command (see `afsearch bench gemm`).
        """
    )

    @OptionGroup var common: BenchOptions

    @Option(name: .long, help: "Candidates P.")
    var population = 64
    @Option(name: [.customLong("depth"), .customLong("layers")],
            help: "Linear layers L (hidden layers = L − 1); --layers is the old spelling.")
    var layers = 5
    @Option(name: .long, help: "Samples n.")
    var samples = 1000
    @Option(name: .long, help: "Epochs.")
    var epochs = 50

    /// Run P = 1, 8, 64, 256 for L = 5 and 10 (ignores --population and --layers).
    @Flag(name: .long, help: "Run P = 1, 8, 64, 256 × L = 5, 10.")
    var scaling = false

    @Option(name: .long, help: "GEMM peak sweep: full, quick (float16 tiles only) or none.")
    var peak: PeakMode = .full

    /// Candidate i uses entry i mod count (default: study 1's relu,tanh,sigmoid,elu,silu,gelu,softplus,mish). `--cycle relu` measures a population with a single activation.
    @Option(name: .long, help: "Activation cycle, comma-separated names (default: the study-1 eight).")
    var cycle: String?

    /// The trainer's register tile as ROWSxWIDTHxVECTORS (e.g. 8x16x2 = 8 rows × two float16); default: the trainer's choice for the device.
    @Option(name: .long, help: "Trainer register tile ROWSxVECTORWIDTHxVECTORS (default: chosen for the device).")
    var tile: String?

    /// Device seconds per kernel of the timed run (waits on every launch's event, so the run is a little slower).
    @Flag(name: .long, help: "Print device seconds per kernel of the timed run.")
    var profile = false

    /// `tiles` or `layers`: a less fused step than the default where the population allows fusing
    /// (kernels/mlp_fused.cl, `RowPass`), to measure what the fusion gains; the results are the same bits.
    @Option(name: .long, help: "Step launches on CPU devices: 'candidates' (a work-item per candidate, where the population allows), 'tiles' (a work-item per row tile) or 'layers'.")
    var rowPass: RowPass = .candidates

    @Option(name: .long, help: "Row pass 'candidates': rows per block (rounded up to the tile's rows).")
    var blockRows = 32

    /// `interpreted`: the activations run as tapes through the interpreter, as evolution trains new expressions.
    @Option(name: [.customLong("activation-code"), .customLong("activations")],
            help: "Activation execution: 'compiled' (fused into the kernels) or 'interpreted' (evolution's tapes); --activations is the old spelling.")
    var activations: ActivationExecution = .compiled

    enum PeakMode: String, ExpressibleByArgument, CaseIterable { case full, quick, none }

    /// `cnn` (study 2's CNN) or a spec with convolutions: runs the CNN workload (GPUEngine/Bench/CNNBench.swift,
    /// bench/README.md "CNN") with --population, --images, --batch, --cnn-epochs instead of study 1's.
    @Option(name: .long, help: "CNN workload: 'cnn' or an architecture spec (see bench/README.md, CNN).")
    var arch: String?
    @Option(name: .long, help: "CNN workload: images (1×28×28) per epoch.") var images = 1024
    @Option(name: .long, help: "CNN workload: mini-batch size.") var batch = 128
    @Option(name: .long, help: "CNN workload: epochs.") var cnnEpochs = 1
    @Flag(name: .long, help: "CNN workload: a second, profiled run with device seconds per kernel.") var cnnProfile = false

    struct Report: Encodable {
        var device: String
        var gemmPeak: GEMMPeakSummary?
        var runs: [Run]
        struct Run: Encodable {
            var result: TrainingBenchResult
            var shareOfGEMMPeak: Double?
            /// Of the measured FP32 FMA throughput, the device's arithmetic ceiling.
            var shareOfFMAPeak: Double?
        }
    }

    func validate() throws {
        for (name, value) in [("population", population), ("depth", layers), ("samples", samples), ("epochs", epochs),
                              ("block-rows", blockRows)] where value < 1 {
            throw ValidationError("--\(name) must be at least 1, got \(value)")
        }
        guard layers >= 2 || scaling else { throw ValidationError("--depth must be at least 2 (one hidden layer), got \(layers)") }
        _ = try trainerTile()
        _ = try activationCycle()
    }

    func activationCycle() throws -> [UnaryOp] {
        guard let cycle else { return Study1Workload.activationCycle }
        return try cycle.split(separator: ",").map { name in
            let trimmed = name.trimmingCharacters(in: .whitespaces)
            guard let op = UnaryOp(rawValue: trimmed) else {
                throw ValidationError("--cycle: '\(trimmed)' is not an element-wise function name (e.g. relu, tanh, gelu)")
            }
            return op
        }
    }

    func trainerTile() throws -> TileShape? {
        guard let tile else { return nil }
        let parts = tile.lowercased().split(separator: "x").map { Int($0) }
        guard parts.count == 3, let rows = parts[0], let width = parts[1], let vectors = parts[2],
              rows >= 1, vectors >= 1, [1, 4, 8, 16].contains(width) else {
            throw ValidationError("--tile: expected ROWSxVECTORWIDTHxVECTORS with vector width 1, 4, 8 or 16 (e.g. 8x16x2), got '\(tile)'")
        }
        return TileShape(rows: rows, vectorWidth: width, vectors: vectors)
    }

    func run() async throws {
        let device = try common.deviceOptions.select()
        if let arch {
            var w = CNNWorkload()
            (w.architecture, w.population, w.images, w.batch, w.epochs) = (arch, population, images, batch, cnnEpochs)
            let r = try CNNBench.run(w, trainer: PopulationCNNTrainer(device: device), profile: cnnProfile)
            print(common.json ? try JSONOutput.string(r, layout: .line) : "device: \(device.info.name)\n" + r.textLine)
            return
        }
        let log: (String) -> Void = { if !common.json { print($0) } }
        log("device: \(device.info.name)")
        var peakSummary: GEMMPeakSummary?
        if peak != .none {
            peakSummary = try GEMMPeakSummary.measure(device: device, shapes: [.study1Layer, .square256], repetitions: 3,
                                                      quick: peak == .quick, log: nil)
            if !common.json { peakSummary!.printText(device: false) }
        }
        let trainer = PopulationTrainer(device: device)
        trainer.tile = try trainerTile()
        trainer.rowPass = rowPass
        trainer.candidateBlockRows = blockRows
        trainer.activationExecution = activations
        let grid: [(p: Int, l: Int)] = scaling ? [5, 10].flatMap { l in [1, 8, 64, 256].map { (p: $0, l: l) } } : [(population, layers)]
        log([benchPadded("P", 5), benchPadded("L", 3), benchPadded("n", 6), benchPadded("epochs", 6), benchPadded("cand-epochs/s", 13), benchPadded("GFLOP/s", 9), benchPadded("of peak", 8), benchPadded("of FMA", 7), " tile"].joined(separator: " "))
        var runs: [Report.Run] = []
        for (p, l) in grid {
            var workload = Study1Workload()
            workload.population = p
            workload.layers = l
            workload.samples = samples
            workload.epochs = epochs
            workload.cycle = try activationCycle()
            let r = try TrainingBench.run(workload, trainer: trainer, profile: profile)
            let share = peakSummary.map { r.gflops / $0.peakGFLOPs }
            let fmaShare = peakSummary?.fmaPeak.map { r.gflops / $0.gflops }
            runs.append(.init(result: r, shareOfGEMMPeak: share, shareOfFMAPeak: fmaShare))
            let percent = { (x: Double?) in x.map { String(format: "%.0f%%", 100 * $0) } ?? "-" }
            log(String(format: "%5d %3d %6d %6d %13.1f %9.2f ", p, l, samples, epochs, r.candidateEpochsPerSecond, r.gflops)
                + benchPadded(percent(share), 8) + " " + benchPadded(percent(fmaShare), 7) + "  " + r.tile)
            for (name, s) in (r.kernelSeconds ?? [:]).sorted(by: { $0.value > $1.value }) {
                log("    " + benchPadded(name, 24, left: true) + String(format: " %8.3f s", s))
            }
        }
        if common.json { try JSONOutput.print(Report(device: device.info.name, gemmPeak: peakSummary, runs: runs), layout: .line) }
    }
}
extension RowPass: ExpressibleByArgument {}
