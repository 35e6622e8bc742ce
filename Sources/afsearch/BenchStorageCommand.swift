import ArgumentParser
import Foundation
import Search

/// `afsearch bench storage --storage URL --trials 100000`: the storage's cost per trial as the study grows.
struct BenchStorageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storage",
        abstract: "Time the study storage per trial (claim, store the score, read what finished) from 1k to N trials, with no training.",
        discussion: "Writes a fresh study (named bench-storage-<time>) into --storage; the default is a SQLite file under the runs folder.")

    @Option(name: .long, help: "Trials in the study at the end.")
    var trials = 100_000

    @Option(name: .long, help: "Trials per measured window (the median is over the window ending at each checkpoint).")
    var window = 1_000

    @OptionGroup var storageOptions: StorageOptions

    @Flag(name: .long, help: "Print the result as JSON.")
    var json = false

    func validate() throws {
        try checkCount(trials, option: "--trials", max: 10_000_000)
        try checkCount(window, option: "--window", max: trials)
    }

    func run() async throws {
        let storage = try storageOptions.resolve()
        let study = "bench-storage-\(Int(Date().timeIntervalSince1970))"
        let store = try storage.open(study, create: true)
        try store.writeSettingsJSON("{}", kind: "bench-storage")
        let result = try StorageBenchmark(trials: trials, window: window).run(store: store, storageDescription: storage.description) { point in
            if !json {
                FileHandle.standardError.write(Data(String(format: "%7d trials: median %.3f ms, p90 %.3f ms per trial\n",
                                                           point.trials, point.medianMilliseconds, point.p90Milliseconds).utf8))
            }
        }
        if json {
            try JSONOutput.print(result)
            return
        }
        print("storage \(result.storage), study \(study): \(trials) trials in " + String(format: "%.1f s", result.totalSeconds))
        for point in result.checkpoints {
            print(String(format: "  at %7d trials: median %.3f ms, p90 %.3f ms per trial (read %.3f, claim %.3f, finish %.3f ms)",
                         point.trials, point.medianMilliseconds, point.p90Milliseconds, point.readMilliseconds,
                         point.claimMilliseconds, point.finishMilliseconds))
        }
    }
}
