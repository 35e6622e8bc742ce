import ArgumentParser
import Foundation
import Search

/// Where studies live: `--storage` (a URL) and `--runs` (the runs folder: the default storage, and the place of
/// reports). Every command that writes or reads a study takes this group.
struct StorageOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "Where the study lives: sqlite:PATH, or postgresql://[user@]host[:port]/database[?sslmode=require] for a study that several workers share (password from PGPASSWORD or ~/.pgpass, never shown). Default: <runs>/<study>/study.sqlite.",
        valueName: "url"))
    var storage: String?

    @Option(name: .long, help: "The runs folder (default: $AFSEARCH_RUNS, else ./runs).")
    var runs: String?

    func validate() throws {
        do { _ = try resolve() } catch { throw ValidationError("\(error)") }
    }

    var runsRoot: URL? { runs.map { URL(fileURLWithPath: $0) } }

    func resolve() throws -> StudyStorage { try StudyStorage(storage, runs: runsRoot) }

    /// An experiment's storage: nil (its studies in the run folder's files), or a PostgreSQL storage that holds
    /// all of them. A `sqlite:` file holds one study, so it cannot hold an experiment's many.
    func experimentStorage() throws -> StudyStorage? {
        guard storage != nil else { return nil }
        let resolved = try resolve()
        if case .sqliteFile = resolved {
            throw ValidationError("--storage: an experiment holds a study per cell, and a sqlite: file holds one; give a postgresql:// URL, or leave --storage out (the run folder's SQLite files)")
        }
        return resolved
    }

    /// The local folder of a study's reports and tables.
    func folder(of study: String) throws -> URL { try resolve().folder(of: study, runs: runsRoot) }
}

/// How a worker keeps its claims: heartbeat, grace period, attempts.
struct WorkerOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Seconds between a worker's heartbeats.", valueName: "seconds"))
    var heartbeat = 10.0

    @Option(name: .long, help: ArgumentHelp("Requeue the claims of a worker silent for this long (its process on this machine gone: at once).", valueName: "seconds"))
    var staleAfter = 60.0

    @Option(name: .long, help: "Claims of one trial at most; a trial whose last claim goes stale is marked failed.")
    var maxAttempts = 3

    var policy: ClaimPolicy { ClaimPolicy(heartbeatSeconds: heartbeat, staleAfterSeconds: staleAfter, maxAttempts: maxAttempts) }

    func validate() throws {
        try checkCount(maxAttempts, option: "--max-attempts", max: 1_000)
        do { try policy.validate() } catch { throw ValidationError("--heartbeat/--stale-after/--max-attempts: \(error)") }
    }
}
