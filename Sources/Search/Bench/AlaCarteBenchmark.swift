import Datasets
import Foundation
import GPUEngine
import Kernels

/// Study 1's real protocol end to end (`afsearch bench alacarte`): random per-layer choices from the menu,
/// Adam with early stopping (full batch, or mini-batches with `--batch`), one eval-mode validation pass per epoch, trials streamed through the
/// slot pool; and the same protocol run one trial after another by a PyTorch peer (bench/peers/alacarte_torch.py)
/// on the same split, so the two can be compared as candidate-epochs the early-stopping rule needed per second.
public enum AlaCarteBenchmark {
    /// afsearch's side of one dataset.
    public struct Run: Codable, Sendable {
        public var dataset: String
        public var trainRows: Int
        public var validationRows: Int
        public var trials: Int
        public var population: Int
        /// Wall seconds of the study (the warm-up that builds the program and PoCL's kernels excluded: `compileSeconds`;
        /// the final test scoring of the best trial included).
        public var wallSeconds: Double
        public var compileSeconds: Double
        /// Epochs the trained trials ran (what the protocol needed), and trials trained (duplicates excluded).
        public var candidateEpochs: Int
        public var trained: Int
        public var diverged: Int
        public var medianEpochs: Double
        public var pool: PoolStatistics?
        /// Every trial in trial order: its menu choice per layer, epochs and whether it diverged. The peer trains
        /// the first trials' functions (`runPeer(functions:)`), so both sides' medians and divergences can be
        /// compared over the same networks (`firstTrials`).
        public var trialLog: [TrialLine] = []
        public struct TrialLine: Codable, Sendable {
            public var functions: [String]
            public var epochs: Int?
            public var diverged: Bool
        }
        /// The first `n` trials' median epochs and diverged count.
        public func firstTrials(_ n: Int) -> TrialSummary {
            let first = trialLog.prefix(n)
            return TrialSummary(trials: first.count, medianEpochs: AlaCarteBenchmark.median(first.compactMap(\.epochs)),
                                diverged: first.filter(\.diverged).count)
        }
        public struct TrialSummary: Codable, Sendable {
            public var trials: Int
            public var medianEpochs: Double
            public var diverged: Int
        }
        public var trialsPerSecond: Double { wallSeconds > 0 ? Double(trials) / wallSeconds : 0 }
        public var candidateEpochsPerSecond: Double { wallSeconds > 0 ? Double(candidateEpochs) / wallSeconds : 0 }
        /// Share of the training steps that ran the fused row pass.
        public var fusedShare: Double? { pool.map { $0.steps > 0 ? Double($0.fusedSteps) / Double($0.steps) : 0 } }
    }

    /// What the PyTorch peer printed (one JSON line).
    public struct PeerRun: Codable, Sendable {
        public var trials: Int
        public var candidateEpochs: Int
        public var wallSeconds: Double
        public var trialsPerSecond: Double
        public var candidateEpochsPerSecond: Double
        public var medianEpochs: Double
        public var diverged: Int
        public var torchVersion: String
        public var threads: Int
        enum CodingKeys: String, CodingKey {
            case trials, diverged, threads
            case candidateEpochs = "candidate_epochs", wallSeconds = "wall_seconds", trialsPerSecond = "trials_per_second"
            case candidateEpochsPerSecond = "candidate_epochs_per_second", medianEpochs = "median_epochs"
            case torchVersion = "torch_version"
        }
    }

    /// Runs a random-search study of `trials` trials over `menu` on `splits` with `population` slots, in an
    /// in-memory store, after a short warm-up study of the same shape (`compileSeconds`).
    public static func run(dataset: String, splits: SearchSplits, setup: TrainingSetup, menu: [MenuChoice], trials: Int,
                           population: Int, seed: UInt64, device: ComputeDevice, profileKernels: Bool = false,
                           progress: (@Sendable (AlaCarteProgress) -> Void)? = nil) async throws -> Run {
        let backend = TrainerBackend.openCL(device: device, identity: .expressionLanguage, vocabulary: menu.map(\.expression),
                                            profileKernels: profileKernels)
        let space = try AlaCarteSpace(menu: menu, layers: setup.slotCount)
        let compileClock = ContinuousClock.now
        // Short studies of the same shape first, outside the timed one: they build the menu's program and let
        // PoCL compile each kernel for every launch shape the timed study meets. PoCL compiles a kernel per
        // work-group size, and the pool's launches narrow to 32, 16, ... slots at the end of a stream, so one
        // study per width (a pool of 32 slots launches what a pool of 64 narrowed to 32 does). Every trial of a
        // 2-epoch study stops at once, so a single study of the full width never narrows. Both land in the
        // caches, so this is the cost of a first run only.
        var warmSetup = setup
        warmSetup.epochs = 2
        var width = population
        while width >= 1 {
            let warmStore = try SQLiteStudyStore(inMemoryNamed: "bench-warm-\(dataset)-\(width)")
            _ = try await AlaCarteStudy(
                space: space,
                settings: AlaCarteSettings(dataset: dataset, layers: setup.slotCount, trials: 2 * width, sampler: .random,
                                           population: width, seed: seed &+ 1, menuName: "bench",
                                           menuEntries: menu.map(\.name), training: warmSetup),
                evaluator: PopulationEvaluator(backend: backend, setup: warmSetup, splits: splits, identity: .expressionLanguage,
                                               store: warmStore),
                store: warmStore).run()
            width /= 2
        }
        let compile = compileClock.duration(to: .now)

        let store = try SQLiteStudyStore(inMemoryNamed: "bench-\(dataset)")
        let settings = AlaCarteSettings(
            dataset: dataset, layers: setup.slotCount, trials: trials, sampler: .random, population: population,
            seed: seed, menuName: "bench", menuEntries: menu.map(\.name), training: setup)
        let evaluator = PopulationEvaluator(backend: backend, setup: setup, splits: splits, identity: .expressionLanguage,
                                            store: store)
        let study = try AlaCarteStudy(space: space, settings: settings, evaluator: evaluator, store: store)
        let clock = ContinuousClock.now
        let outcome = try await study.run(progress: progress)
        let wall = clock.duration(to: .now)
        let trained = try store.trials(states: TrialState.finished, group: nil).filter { $0.duplicateOf == nil }
        let epochs = trained.compactMap(\.epochs)
        let trialLog = try store.trials(states: nil, group: nil).sorted { $0.number < $1.number }.map { trial in
            Run.TrialLine(functions: (0..<setup.slotCount).map { trial.parameters[AlaCarteSpace.parameterName(layer: $0)] ?? "" },
                          epochs: trial.epochs, diverged: trial.state == .diverged)
        }
        return Run(dataset: dataset, trainRows: splits.train.rowCount, validationRows: splits.validation.rowCount,
                   trials: outcome.trialsFinished, population: population, wallSeconds: seconds(wall),
                   compileSeconds: seconds(compile), candidateEpochs: epochs.reduce(0, +), trained: trained.count,
                   diverged: outcome.divergedCount, medianEpochs: median(epochs), pool: outcome.pool, trialLog: trialLog)
    }

    static func median(_ values: [Int]) -> Double {
        let v = values.sorted()
        return v.isEmpty ? 0 : Double(v[(v.count - 1) / 2] + v[v.count / 2]) / 2
    }

    /// Writes a split as the peer reads it: a header, then the (standardised) features and the label per row.
    public static func writeCSV(_ data: LabeledData, to url: URL) throws {
        var text = (0..<data.featureCount).map { "f\($0)" }.joined(separator: ",") + ",label\n"
        text.reserveCapacity(data.rowCount * (data.featureCount * 12 + 4))
        for r in 0..<data.rowCount {
            let row = data.features[(r * data.featureCount)..<((r + 1) * data.featureCount)]
            text += row.map { "\($0)" }.joined(separator: ",") + ",\(data.labels[r])\n"
        }
        try text.write(to: url, atomically: true, encoding: .utf8)
    }

    /// Runs the PyTorch peer on the same split and protocol and reads its JSON line.
    /// `functions`: the trials to train, each a menu name per layer (afsearch's, `Run.trialLog`), the first
    /// `trials` of them; empty: the peer draws its own.
    public static func runPeer(python: String, script: String, splits: SearchSplits, setup: TrainingSetup, trials: Int,
                               seed: UInt64, threads: Int, functions: [[String]] = []) throws -> PeerRun {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("afsearch-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let train = folder.appendingPathComponent("train.csv"), validation = folder.appendingPathComponent("validation.csv")
        try writeCSV(splits.train, to: train)
        try writeCSV(splits.validation, to: validation)
        var arguments = [script, "--train", train.path, "--validation", validation.path, "--trials", "\(trials)",
                         "--layers", "\(setup.slotCount)", "--hidden", "\(setup.hiddenWidths.first ?? 64)",
                         "--max-epochs", "\(setup.epochs)", "--lr", "\(setup.learningRate)", "--seed", "\(seed)",
                         "--threads", "\(threads)", "--min-delta", "\(setup.earlyStopMinDelta)"]
        arguments += ["--patience", "\(setup.earlyStopPatience ?? setup.epochs + 1)"]
        if let batch = setup.batchSize, batch < splits.train.rowCount { arguments += ["--batch", "\(batch)"] }
        if !functions.isEmpty {
            let file = folder.appendingPathComponent("functions.json")
            try JSONEncoder().encode(Array(functions.prefix(trials))).write(to: file)
            arguments += ["--functions", file.path]
        }
        return try runJSONLine(python: python, arguments: arguments, as: PeerRun.self)
    }

    /// What the vendor GEMM peer (bench/peers/torch_gemm.py) printed: PyTorch's BLAS on a study's own products.
    public struct GEMMPeerRun: Codable, Sendable {
        public var torchVersion: String
        public var threads: Int
        public var gflops: Double
        public var mflop: Double
        enum CodingKeys: String, CodingKey {
            case threads, gflops, mflop
            case torchVersion = "torch_version"
        }
    }

    /// Runs the vendor GEMM peer on a study's products: `widths` inputs first, `trainRows` and `validationRows` as
    /// the bound counts them (`AlaCarteBound`).
    public static func runGEMMPeer(python: String, script: String, widths: [Int], trainRows: Int, validationRows: Int,
                                   threads: Int) throws -> GEMMPeerRun {
        try runJSONLine(python: python,
                        arguments: [script, "--widths", widths.map(String.init).joined(separator: ","),
                                    "--train", "\(trainRows)", "--validation", "\(validationRows)", "--threads", "\(threads)"],
                        as: GEMMPeerRun.self)
    }

    /// Runs `python arguments...` (its standard error passed through) and decodes the last line of its standard
    /// output that starts with "{".
    static func runJSONLine<T: Decodable>(python: String, arguments: [String], as type: T.Type) throws -> T {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.standardError
        try process.run()
        let bytes = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let script = arguments.first ?? ""
        guard process.terminationStatus == 0,
              let line = String(decoding: bytes, as: UTF8.self).split(separator: "\n").last(where: { $0.hasPrefix("{") })
        else {
            throw BenchmarkError.peerFailed("\(python) \(script) exited with status \(process.terminationStatus)")
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(line.utf8))
        } catch {
            throw BenchmarkError.peerFailed("could not read \(script)'s JSON line (\(error)): \(line.prefix(200))")
        }
    }

    public enum BenchmarkError: Error, CustomStringConvertible {
        case peerFailed(String)
        public var description: String {
            switch self { case .peerFailed(let s): return "PyTorch peer failed: \(s)" }
        }
    }

    static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}
