import ArgumentParser
import Foundation
import GPUEngine
import Search

/// `afsearch bench alacarte`: study 1's protocol end to end, against a sequential PyTorch peer of it.
struct BenchAlacarteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alacarte",
        abstract: "Study 1's protocol end to end (early stopping, the full menu) against a sequential PyTorch loop.",
        discussion: """
            Per dataset: a random-search study of --trials trials with --population slots (continuous training), \
            then the PyTorch peer (bench/peers/alacarte_torch.py, run with --python) on the same split for \
            --peer-trials trials: with the paper1 menu, the functions of afsearch's first --peer-trials trials \
            (so both sides' epochs and divergences can be compared over the same networks), with another menu its \
            own draws from paper1. Compared as candidate-epochs the early-stopping rule needed per second of wall \
            time (trials/s alone depends on which functions each trial holds); slot utilisation = candidate-epochs \
            trained / slot-epochs launched. Set up the peer with `bash bench/peers/setup-torch.sh`.
            """)

    @OptionGroup var common: BenchOptions

    @Option(name: .long, help: "Comma-separated datasets (registry names or files).")
    var datasets = CommaSeparated(["sklearn/digits", "sklearn/wine", "keel/satimage"])

    @Option(name: .long, help: "Trials of afsearch's study per dataset.")
    var trials = 512

    @Option(name: .long, help: "Slots of the pool (candidates training at once).")
    var population = 64

    @Option(name: .long, help: "Linear layers (each with its own activation, the last included).")
    var depth = 5

    @Option(name: .long, help: "Epochs at most per trial (study 1: 300).")
    var epochs = 300

    @Option(name: .long, help: "Early stopping: epochs of training-accuracy gain < 0.001 (study 1: 10).")
    var patience = 10

    @Option(name: .long, help: "Mini-batch rows (default: full batch, study 1's protocol); both sides shuffle each epoch.")
    var batch: Int?

    @Option(name: .long, help: "Seed of the split, the sampler and the weights.")
    var seed: UInt64 = 0

    @Option(name: .long, help: "Menu (paper1, or a comma-separated list of expressions).")
    var menu = "paper1"

    @Option(name: .long, help: "Trials of the PyTorch peer per dataset (0: no peer).")
    var peerTrials = 128

    @Option(name: .long, help: "Python with PyTorch for the peer.")
    var python = "bench/.venv/bin/python"

    @Option(name: .long, help: "The peer script.")
    var peerScript = "bench/peers/alacarte_torch.py"

    @Option(name: .long, help: "With --bound: the vendor GEMM peer (PyTorch's BLAS on the study's own products), run with --python.")
    var gemmPeerScript = "bench/peers/torch_gemm.py"

    @Option(name: .long, help: "The peer's torch threads (0: the faster of 1 and every CPU, by a timed warm-up on each data set).")
    var peerThreads = 0

    @Flag(name: .long, help: "Print device seconds per kernel of afsearch's study.")
    var profile = false

    @Flag(name: .long, help: "Measure the device's GEMM peak and the menu's activation costs first, and print each study's device bound: its GEMMs at that peak plus its activation spans, nothing else.")
    var bound = false

    struct Report: Encodable {
        var device: String
        var runs: [Entry]
        struct Entry: Encodable {
            var afsearch: AlaCarteBenchmark.Run
            var peer: AlaCarteBenchmark.PeerRun?
            var candidateEpochRatio: Double?
            var trialRatio: Double?
            /// afsearch's median epochs and divergences over the trials the peer replayed (its first ones).
            var afsearchOnPeerTrials: AlaCarteBenchmark.Run.TrialSummary?
            /// `--bound`: the fastest this study could run on the device (`AlaCarteBound`).
            var bound: AlaCarteBound?
            /// `--bound` with a peer: PyTorch's BLAS on the study's GEMMs (bench/peers/torch_gemm.py).
            var gemmPeer: AlaCarteBenchmark.GEMMPeerRun?
        }
    }

    func validate() throws {
        guard trials >= 1 else { throw ValidationError("--trials must be at least 1, got \(trials)") }
        guard population >= 1 else { throw ValidationError("--population must be at least 1, got \(population)") }
        guard depth >= 1 else { throw ValidationError("--depth must be at least 1, got \(depth)") }
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1, got \(epochs)") }
        if let batch, batch < 1 { throw ValidationError("--batch must be at least 1, got \(batch)") }
        guard patience >= 0 else { throw ValidationError("--patience must be 0 or more, got \(patience)") }
        guard peerTrials >= 0 else { throw ValidationError("--peer-trials must be 0 or more, got \(peerTrials)") }
        guard peerThreads >= 0 else { throw ValidationError("--peer-threads must be 0 or more, got \(peerThreads)") }
        if peerTrials > 0 {
            guard FileManager.default.isExecutableFile(atPath: python) else {
                throw ValidationError("--python \(python) is not an executable; set up the peer with `bash bench/peers/setup-torch.sh`, or pass --peer-trials 0")
            }
            guard FileManager.default.fileExists(atPath: peerScript) else {
                throw ValidationError("--peer-script \(peerScript) does not exist (run from the repository root, or pass --peer-trials 0)")
            }
            if bound, !FileManager.default.fileExists(atPath: gemmPeerScript) {
                throw ValidationError("--gemm-peer-script \(gemmPeerScript) does not exist (run from the repository root, or pass --peer-trials 0)")
            }
        }
    }

    func run() async throws {
        let names = datasets.values
        guard !names.isEmpty else { throw ValidationError("--datasets is empty") }
        let device = try common.deviceOptions.select()
        let choices = try AlacarteMenus.resolve(menu).choices
        var options = try AlacarteTrainingOptions.parse([])
        options.seed = seed
        let setup = TrainingSetup(hiddenWidths: Array(repeating: 64, count: max(depth - 1, 0)), slotCount: depth,
                                  epochs: epochs, learningRate: 0.001, batchSize: batch, earlyStopPatience: patience > 0 ? patience : nil,
                                  seed: seed, objective: .train, selection: .final)
        let log = { (s: String) in if !common.json { print(s) } }
        log("device: \(device.info.name)")
        log("study 1's protocol: \(depth) layers of 64, \(choices.count) functions, Adam 1e-3 \(batch.map { "batch \($0)" } ?? "full batch"), ≤ \(epochs) epochs, "
            + "early stop after \(patience) epochs of gain < 0.001, random search, population \(population)")
        var report = Report(device: device.info.name, runs: [])
        var measured: (peak: Double, fma: Double?, costs: [ActivationSpanBench.Cost])?
        if bound {
            let peak = try GEMMPeakSummary.measure(device: device, shapes: [.study1Layer, .square256], repetitions: 3, quick: false, log: nil)
            var spans = ActivationSpanBench(device: device)
            spans.passes = 500
            spans.repetitions = 3
            let costs = try spans.measure(menu: choices.map { ($0.name, $0.expression) }).costs
            measured = (peak.peakGFLOPs, peak.fmaPeak?.gflops, costs)
            log(String(format: "bound: GEMM peak %.1f GFLOP/s (bench gemm's sweep), FMA peak %.1f GFLOP/s, the menu's activation spans measured (bench activations)",
                       peak.peakGFLOPs, peak.fmaPeak?.gflops ?? 0))
        }
        for name in names {
            let splits = try AlacarteData.splits(dataset: name, seed: seed, options: options)
            let line = ProgressLine(enabled: !common.json)
            let run = try await AlaCarteBenchmark.run(
                dataset: name, splits: splits, setup: setup, menu: choices, trials: trials, population: population,
                seed: seed, device: device, profileKernels: profile) { line.update("\(name): " + AlacarteCommand.describe($0)) }
            line.finish()
            var entry = Report.Entry(afsearch: run)
            log(String(format: "%@ (%d train / %d validation rows): afsearch %d trials in %.1f s (after a %.1f s warm-up): "
                       + "%.2f trials/s, %.0f candidate-epochs/s (median %.0f epochs, %d diverged), slot utilisation %.1f %%, fused steps %.0f %%",
                       name, run.trainRows, run.validationRows, run.trials, run.wallSeconds, run.compileSeconds,
                       run.trialsPerSecond, run.candidateEpochsPerSecond, run.medianEpochs, run.diverged,
                       100 * (run.pool?.utilisation ?? 0), 100 * (run.fusedShare ?? 0)))
            if profile, let kernels = run.pool?.kernelSeconds {
                for (k, v) in kernels.sorted(by: { $0.value > $1.value }) { log("    " + benchPadded(k, 26, left: true) + String(format: " %8.3f s", v)) }
            }
            if let measured {
                let widths = [splits.train.featureCount] + setup.hiddenWidths + [splits.train.classCount]
                // The vendor's BLAS on this study's products: the bound takes the higher rate, so that it is not
                // only afsearch's own kernels' word.
                var vendor: AlaCarteBenchmark.GEMMPeerRun?
                if peerTrials > 0 {
                    vendor = try AlaCarteBenchmark.runGEMMPeer(python: python, script: gemmPeerScript, widths: widths,
                                                               trainRows: run.trainRows, validationRows: run.validationRows,
                                                               threads: peerThreads)
                }
                entry.gemmPeer = vendor
                entry.bound = AlaCarteBound.compute(run: run, widths: widths, costs: measured.costs, peakGFLOPs: measured.peak,
                                                    vendorGFLOPs: vendor?.gflops, fmaPeakGFLOPs: measured.fma,
                                                    computeUnits: device.info.computeUnits)
                if let b = entry.bound {
                    if let vendor {
                        log(String(format: "%@: PyTorch %@'s BLAS (%d thread%@) on this study's GEMMs: %.1f GFLOP/s, against afsearch's measured peak %.1f",
                                   name, vendor.torchVersion, vendor.threads, vendor.threads == 1 ? "" : "s", vendor.gflops, b.measuredPeakGFLOPs))
                    }
                    log(String(format: "%@: device bound %.0f candidate-epochs/s (GEMMs %.1f MFLOP at %.0f GFLOP/s: %.0f µs; activation spans "
                               + "%.3f / %.3f ns per element: %.0f µs, per candidate-epoch; the GEMMs alone %.0f, the GEMMs at the FMA peak %.0f); "
                               + "afsearch reached %.0f %% of it",
                               name, b.candidateEpochsPerSecond, b.gemmMFLOP, b.peakGFLOPs, b.gemmMicroseconds, b.trainNanoseconds,
                               b.evaluateNanoseconds, b.activationMicroseconds, b.gemmOnlyCandidateEpochsPerSecond,
                               b.fmaCandidateEpochsPerSecond ?? 0, 100 * b.share))
                }
            }
            if peerTrials > 0 {
                // The peer knows paper1's names only: with another menu it draws its own trials.
                let replays = menu == "paper1"
                let peer = try AlaCarteBenchmark.runPeer(python: python, script: peerScript, splits: splits, setup: setup,
                                                         trials: peerTrials, seed: seed, threads: peerThreads,
                                                         functions: replays ? run.trialLog.map(\.functions) : [])
                entry.peer = peer
                entry.candidateEpochRatio = peer.candidateEpochsPerSecond > 0 ? run.candidateEpochsPerSecond / peer.candidateEpochsPerSecond : nil
                entry.trialRatio = peer.trialsPerSecond > 0 ? run.trialsPerSecond / peer.trialsPerSecond : nil
                log(String(format: "%@: PyTorch %@ (%d thread%@) %d trials in %.1f s: %.2f trials/s, %.0f candidate-epochs/s (median %.0f epochs, %d diverged)",
                           name, peer.torchVersion, peer.threads, peer.threads == 1 ? "" : "s", peer.trials, peer.wallSeconds,
                           peer.trialsPerSecond, peer.candidateEpochsPerSecond, peer.medianEpochs, peer.diverged))
                if replays {
                    let same = run.firstTrials(peer.trials)
                    entry.afsearchOnPeerTrials = same
                    log(String(format: "%@: afsearch on the same %d trials (the peer trains afsearch's functions): median %.0f epochs, %d diverged",
                               name, same.trials, same.medianEpochs, same.diverged))
                } else {
                    log("\(name): the peer drew its own trials from paper1 (it knows no other menu)")
                }
                log(String(format: "%@: afsearch / PyTorch = %.2f× candidate-epochs/s, %.2f× trials/s",
                           name, entry.candidateEpochRatio ?? 0, entry.trialRatio ?? 0))
                if let b = entry.bound {
                    let target = 5 * peer.candidateEpochsPerSecond
                    log(String(format: "%@: 5× the peer (%.0f candidate-epochs/s) is %.0f %% of the device bound, %.0f %% of the GEMMs alone",
                               name, target, 100 * target / b.candidateEpochsPerSecond, 100 * target / b.gemmOnlyCandidateEpochsPerSecond)
                        + (b.fmaCandidateEpochsPerSecond.map { String(format: ", %.0f %% of the bound with the GEMMs at the FMA peak", 100 * target / $0) } ?? ""))
                }
            }
            report.runs.append(entry)
        }
        if common.json { try JSONOutput.print(report, layout: .line) }
    }
}
