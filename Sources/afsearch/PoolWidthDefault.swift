import Foundation
import GPUEngine
import Search

/// The pool width of a streamed à la carte study when `--population` is not given: the width that fills the
/// device for the study's network and training rows (`PoolWidthCache`: measured once, then cached), or a
/// constant where the trainer trains in rounds (`--trainer reference`, mini-batch setups).
enum PoolWidthDefault {
    static let help = "Default: the width that fills this device for this network and dataset, measured once (a few "
        + "seconds, one line per width on stderr) and cached beside the program cache ($AFSEARCH_CACHE/pool-width); "
        + "a study that already exists keeps its own. TPE depends on it (the trials still training are its constant "
        + "liars, one per slot): give --population to make a TPE study the same on every machine."

    /// The width and the words that say where it came from; the measurement's lines go to stderr unless `quiet`.
    static func resolve(backend: TrainerBackend, setup: TrainingSetup, splits: SearchSplits, workload: String,
                        constant: Int, quiet: Bool) throws -> (width: Int, origin: String) {
        var previous: Double?
        let choice = try backend.poolWidth(setup: setup, splits: splits) { event in
            guard !quiet else { return }
            switch event {
            case .measuring(let file):
                let rule = PoolWidthRule()
                note("measuring the pool width for this device (\(workload)): from \(rule.start) slots, doubling while "
                     + "candidate-epochs/s gain at least \(Int(rule.minimumGain * 100)) %; "
                     + (file.map { "cached in \($0.path)" } ?? "not cached (no cache folder)"))
            case .measured(let m):
                let gain = previous.map { String(format: " (%+.0f %%)", ($0 > 0 ? m.candidateEpochsPerSecond / $0 - 1 : 0) * 100) } ?? ""
                note(String(format: "  pool width %d: %.0f candidate-epochs/s", m.width, m.candidateEpochsPerSecond) + gain
                     + String(format: ", %.1f s", m.seconds))
                previous = m.candidateEpochsPerSecond
            case .notStored(let why):
                note("warning: the measured pool width is not cached: \(why)")
            }
        }
        guard let choice else { return (constant, "") }
        if !quiet, choice.origin == .measured {
            note("  → \(choice.width) slots (\(choice.record.reason))")
        }
        return (choice.width, " (\(choice.source))")
    }

    static func note(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }
}
