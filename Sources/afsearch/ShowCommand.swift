import ArgumentParser
import Foundation
import Search

/// `afsearch show STUDY`: the study's settings and its best trials.
struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Print a study's settings and best trials.")

    @Argument(help: "The study's name (a folder of the runs folder).")
    var study: String

    @Option(name: .long, help: "How many trials to list.")
    var top = 10

    @OptionGroup var storageOptions: StorageOptions

    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false

    func validate() throws {
        try checkCount(top, option: "--top", max: 1_000_000)
        do { try StudyCatalog.validate(name: study) } catch { throw ValidationError("\(error)") }
    }

    func run() async throws {
        let storage = try storageOptions.resolve()
        let store = try storage.openForReading(study)
        let best = try store.bestTrials(limit: top)
        if json {
            struct Shown: Encodable {
                var study: String
                var kind: String?
                var settings: String?
                var trials: Int
                var best: [TrialRecord]
                var workers: [WorkerRecord]
                var islands: [IslandSummary]?
                var migrations: [MigrationFlow]?
            }
            let islands = IslandSummary.of(try store.trials())
            let flows = islands.isEmpty ? nil : MigrantSelection.flows(migrants: try store.migrants(), immigrations: try store.immigrations())
            let shown = Shown(study: study, kind: try store.kind(), settings: try store.settingsJSON(),
                              trials: try store.count(states: nil), best: best, workers: try store.workers(),
                              islands: islands.isEmpty ? nil : islands, migrations: flows)
            try JSONOutput.print(shown)
            return
        }
        let location: String
        if case let .folder(catalog) = storage { location = catalog.databasePath(of: study) } else { location = storage.description }
        print("study \(study) (\(try store.kind() ?? "unknown kind")) at \(location)")
        if let settings = try store.settingsJSON() { print("settings: \(settings)") }
        let finished = try store.count(states: TrialState.finished)
        let unfinished = try store.count(states: TrialState.unfinished)
        print("trials: \(finished) finished, \(unfinished) unfinished (claimed again when their worker is gone)")
        let workers = try store.workers()
        if !workers.isEmpty {
            let live = workers.filter { $0.stoppedAt == nil }.count
            let listed = workers.suffix(6).map { "\($0.identity.host) pid \($0.identity.pid)" + ($0.identity.device.map { " on \($0)" } ?? "") }
            print("workers: \(workers.count) (\(live) not stopped)\(workers.count > 6 ? ", the last 6" : ""): " + listed.joined(separator: "; "))
        }
        try printIslands(store)
        guard !best.isEmpty else { return }
        let rows = best.map { t in
            ["\(t.number)", t.state.rawValue, t.objective.map { String(format: "%.4f", $0) } ?? "-",
             t.testAccuracy.map { String(format: "%.4f", $0) } ?? "-", t.epochs.map(String.init) ?? "-",
             Self.describe(t)]
        }
        print(StudyTextTable.render(header: ["trial", "state", "objective", "test", "epochs", "activations"], rows: rows))
    }

    /// An island evolution's islands and migrations (nothing for other studies).
    func printIslands(_ store: any StudyStore) throws {
        let islands = IslandSummary.of(try store.trials())
        guard !islands.isEmpty else { return }
        print("islands: \(islands.count)")
        print(StudyTextTable.render(header: ["island", "generations", "trials", "best"], rows: islands.map {
            [$0.island, String($0.generations), String($0.trials), $0.bestObjective.map { String(format: "%.4f", $0) } ?? "-"]
        }))
        let immigrations = try store.immigrations()
        let flows = MigrantSelection.flows(migrants: try store.migrants(), immigrations: immigrations)
        print("migrations: \(immigrations.count) barriers passed, \(flows.reduce(0) { $0 + $1.count }) individuals taken in")
        guard !flows.isEmpty else { return }
        print(StudyTextTable.render(header: ["after gen", "from", "to", "individuals"], rows: flows.map {
            [String($0.generation + 1), $0.from, $0.to, String($0.count)]
        }))
    }

    /// Per-layer choices for an à la carte trial, else the expressions.
    static func describe(_ trial: TrialRecord) -> String {
        let layers = trial.parameters.keys.filter { $0.hasPrefix("layer") }
            .sorted { (Int($0.dropFirst(5)) ?? 0) < (Int($1.dropFirst(5)) ?? 0) }
        if !layers.isEmpty { return layers.map { trial.parameters[$0]! }.joined(separator: ", ") }
        return trial.expressions.joined(separator: ", ")
    }
}
