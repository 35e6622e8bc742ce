import Foundation
import GRDB

/// A study in one SQLite file (usually `runs/<study>/study.sqlite`), through GRDB.
///
/// Write-ahead logging with `synchronous = FULL` makes every committed transaction durable before `commit`
/// returns (one fsync of the log per commit, where the rollback journal needs several), so a process killed
/// at any instant leaves either the whole batch or none of it.
/// Parameters, expressions and metrics are JSON text columns: the schema does not change when a sampler
/// or the trainer reports something new.
public final class SQLiteStudyStore: StudyStore, @unchecked Sendable {
    // `DatabaseQueue` serialises all access itself; the class holds nothing else mutable.
    public let studyName: String
    public let path: String
    let queue: DatabaseQueue

    /// Opens (creating if needed) the study database at `path`. Parent folders are created.
    public init(path: String, studyName: String? = nil) throws {
        let url = URL(fileURLWithPath: path)
        self.path = path
        self.studyName = studyName ?? url.deletingLastPathComponent().lastPathComponent
        do {
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            var config = Configuration()
            config.busyMode = .timeout(10)
            config.prepareDatabase { db in
                // journal_mode returns a row; read it rather than `execute`.
                _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")
                try db.execute(sql: "PRAGMA synchronous = FULL")
            }
            queue = try Self.openAndMigrate(path: path, configuration: config)
        } catch let error as DatabaseError {
            throw StudyStoreError.unreadable(path: path, reason: error.message ?? "\(error)")
        }
    }

    /// Opens an existing study database for reading only: nothing is created, migrated or written, so listing
    /// studies works in a folder the user may not write and never changes what it reads.
    public init(readingPath path: String, studyName: String? = nil) throws {
        let url = URL(fileURLWithPath: path)
        self.path = path
        self.studyName = studyName ?? url.deletingLastPathComponent().lastPathComponent
        do {
            var config = Configuration()
            config.readonly = true
            config.busyMode = .timeout(10)
            // A database in WAL mode that no process is writing has no -wal file. Read it as immutable then:
            // a plain read-only connection would still create -wal and -shm files beside it. (SQLite reads the
            // URI when built with URI support, as the system libraries are; otherwise the plain path is used.)
            var opened: DatabaseQueue?
            if !FileManager.default.fileExists(atPath: path + "-wal"),
               let escaped = url.standardizedFileURL.path.addingPercentEncoding(withAllowedCharacters: Self.uriPathCharacters) {
                opened = try? DatabaseQueue(path: "file:\(escaped)?immutable=1", configuration: config)
            }
            queue = try opened ?? DatabaseQueue(path: path, configuration: config)
            let hasStudyTable = try queue.read { db in try db.tableExists("study") && db.tableExists("trial") }
            guard hasStudyTable else { throw StudyStoreError.notAStudy(path: path) }
        } catch let error as DatabaseError {
            throw StudyStoreError.unreadable(path: path, reason: error.message ?? "\(error)")
        }
    }

    private static let uriPathCharacters = CharacterSet.urlPathAllowed.subtracting(CharacterSet(charactersIn: "?#%"))

    /// An in-memory store (tests, throwaway searches).
    public init(inMemoryNamed name: String) throws {
        studyName = name
        path = ":memory:"
        queue = try DatabaseQueue()
        try Self.migrator.migrate(queue)
    }

    /// Opens the file and applies the missing schema steps. Workers that create a new file at the same moment
    /// race (switching it to WAL, reading which steps are applied, applying them): the loser fails, rolls back,
    /// and tries again, up to a few times.
    private static func openAndMigrate(path: String, configuration: Configuration) throws -> DatabaseQueue {
        var attempt = 0
        while true {
            do {
                let queue = try DatabaseQueue(path: path, configuration: configuration)
                try migrator.migrate(queue)
                return queue
            } catch let error as DatabaseError
                        where attempt < 8 && [.SQLITE_ERROR, .SQLITE_IOERR, .SQLITE_BUSY, .SQLITE_LOCKED].contains(error.resultCode) {
                attempt += 1
                usleep(useconds_t(25_000 * attempt))
            }
        }
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        for step in StudySchema.steps {
            migrator.registerMigration(step.id) { db in try db.execute(sql: step.sqlite) }
        }
        return migrator
    }

    // MARK: settings

    public func settingsJSON() throws -> String? {
        try queue.read { db in try String.fetchOne(db, sql: "SELECT settings FROM study WHERE id = 1") }
    }

    public func kind() throws -> String? {
        try queue.read { db in try String.fetchOne(db, sql: "SELECT kind FROM study WHERE id = 1") }
    }

    public func writeSettingsJSON(_ json: String, kind: String) throws {
        try queue.write { db in
            try db.execute(
                sql: """
                    INSERT INTO study (id, kind, settings, created_at) VALUES (1, ?, ?, ?)
                    ON CONFLICT(id) DO UPDATE SET kind = excluded.kind, settings = excluded.settings
                    """,
                arguments: [kind, json, Date().timeIntervalSince1970])
        }
    }

    // MARK: trials

    static let columns = """
        number, grp, state, parameters, expressions, canonical_key, objective, test_accuracy, metrics, \
        epochs, seed, device, started_at, finished_at, train_seconds, duplicate_of, worker, attempts, island
        """

    public func insert(_ trials: [TrialRecord]) throws {
        try write(trials, verb: "INSERT")
    }

    public func upsert(_ trials: [TrialRecord]) throws {
        // An upsert keeps the row's place in the finish order (`finished_seq`, not a field of the record).
        try write(trials, verb: "INSERT", conflict: " ON CONFLICT(number) DO UPDATE SET \(Self.assignments)")
    }

    public func update(_ trials: [TrialRecord]) throws {
        try queue.write { db in
            for trial in trials {
                let exists = try Bool.fetchOne(
                    db, sql: "SELECT EXISTS(SELECT 1 FROM trial WHERE number = ?)", arguments: [trial.number]) ?? false
                guard exists else { throw StudyStoreError.unknownTrial(study: studyName, number: trial.number) }
                try db.execute(
                    sql: "INSERT INTO trial (\(Self.columns)) VALUES (\(Self.placeholders)) ON CONFLICT(number) DO UPDATE SET \(Self.assignments)",
                    arguments: try Self.arguments(trial))
                try Self.stampFinished(db, trial)
            }
        }
    }

    static let placeholders = Array(repeating: "?", count: 19).joined(separator: ", ")
    static let assignments = columns.split(separator: ",")
        .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { $0 != "number" }
        .map { "\($0) = excluded.\($0)" }.joined(separator: ", ")

    private func write(_ trials: [TrialRecord], verb: String, conflict: String = "") throws {
        do {
            try queue.write { db in
                for trial in trials {
                    try db.execute(
                        sql: "\(verb) INTO trial (\(Self.columns)) VALUES (\(Self.placeholders))\(conflict)",
                        arguments: try Self.arguments(trial))
                    try Self.stampFinished(db, trial)
                }
                if let top = trials.map(\.number).max() {
                    try db.execute(
                        sql: "UPDATE trial_counter SET next = MAX(next, ?) WHERE id = 1", arguments: [top + 1])
                }
            }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            let existing = Set(try self.trials(states: nil, group: nil).map(\.number))
            let clash = trials.first { existing.contains($0.number) }?.number ?? -1
            throw StudyStoreError.duplicateTrialNumber(study: studyName, number: clash)
        }
    }

    /// Gives a trial that just became finished its place in the finish order (once).
    static func stampFinished(_ db: Database, _ trial: TrialRecord) throws {
        guard trial.state.isFinished else {
            try db.execute(sql: "UPDATE trial SET finished_seq = NULL WHERE number = ?", arguments: [trial.number])
            return
        }
        try db.execute(sql: """
            UPDATE trial_counter SET finished_seq = finished_seq + 1
            WHERE id = 1 AND EXISTS (SELECT 1 FROM trial WHERE number = ? AND finished_seq IS NULL)
            """, arguments: [trial.number])
        guard db.changesCount == 1 else { return }
        try db.execute(sql: """
            UPDATE trial SET finished_seq = (SELECT finished_seq FROM trial_counter WHERE id = 1) WHERE number = ?
            """, arguments: [trial.number])
    }

    public func trials(states: Set<TrialState>?, group: String?, island: String?) throws -> [TrialRecord] {
        var clauses: [String] = []
        var arguments = StatementArguments()
        if let states {
            guard !states.isEmpty else { return [] }
            clauses.append("state IN (\(states.map { _ in "?" }.joined(separator: ", ")))")
            for state in states.sorted(by: { $0.rawValue < $1.rawValue }) { _ = arguments.append(contentsOf: [state.rawValue]) }
        }
        if let group {
            clauses.append("grp = ?")
            _ = arguments.append(contentsOf: [group])
        }
        if let island {
            clauses.append("island = ?")
            _ = arguments.append(contentsOf: [island])
        }
        let whereClause = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
        return try queue.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM trial \(whereClause) ORDER BY number", arguments: arguments
            ).map(Self.record)
        }
    }

    public func trial(number: Int) throws -> TrialRecord? {
        try queue.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM trial WHERE number = ?", arguments: [number])
                .map(Self.record)
        }
    }

    public func finishedTrial(canonicalKey: String) throws -> TrialRecord? {
        try queue.read { db in
            try Row.fetchOne(
                db,
                sql: """
                    SELECT * FROM trial
                    WHERE canonical_key = ? AND state IN ('complete', 'failed', 'diverged') AND duplicate_of IS NULL
                    ORDER BY number LIMIT 1
                    """,
                arguments: [canonicalKey]
            ).map(Self.record)
        }
    }

    public func nextTrialNumber() throws -> Int {
        try queue.read { db in
            let counter = try Int.fetchOne(db, sql: "SELECT next FROM trial_counter WHERE id = 1") ?? 0
            let top = try Int.fetchOne(db, sql: "SELECT MAX(number) FROM trial").map { $0 + 1 } ?? 0
            return max(counter, top)
        }
    }

    public func count(states: Set<TrialState>?) throws -> Int {
        guard let states else {
            return try queue.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM trial") ?? 0 }
        }
        guard !states.isEmpty else { return 0 }
        let list = states.map { "'\($0.rawValue)'" }.joined(separator: ", ")
        return try queue.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM trial WHERE state IN (\(list))") ?? 0
        }
    }

    public func numbers(states: Set<TrialState>) throws -> [Int] {
        guard !states.isEmpty else { return [] }
        let list = states.map { "'\($0.rawValue)'" }.joined(separator: ", ")
        return try queue.read { db in try Int.fetchAll(db, sql: "SELECT number FROM trial WHERE state IN (\(list)) ORDER BY number") }
    }

    public func reserveTrialNumbers(_ count: Int) throws -> Int {
        try queue.write { db in
            try db.execute(sql: """
                UPDATE trial_counter SET next = MAX(next, COALESCE((SELECT MAX(number) + 1 FROM trial), 0)) + ? WHERE id = 1
                """, arguments: [count])
            return (try Int.fetchOne(db, sql: "SELECT next FROM trial_counter WHERE id = 1") ?? count) - count
        }
    }

    @discardableResult
    public func discardUnfinished(island: String?) throws -> Int {
        try queue.write { db in
            if let island {
                try db.execute(sql: "DELETE FROM trial WHERE state IN ('pending', 'running') AND island = ?", arguments: [island])
            } else {
                try db.execute(sql: "DELETE FROM trial WHERE state IN ('pending', 'running')")
            }
            return db.changesCount
        }
    }

    public func bestTrials(limit: Int) throws -> [TrialRecord] {
        try queue.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM trial
                    WHERE state IN ('complete', 'failed', 'diverged') AND objective IS NOT NULL
                    ORDER BY objective DESC, number ASC LIMIT ?
                    """,
                arguments: [limit]
            ).map(Self.record)
        }
    }

    // MARK: row mapping

    static func arguments(_ t: TrialRecord) throws -> StatementArguments {
        // Non-finite metrics cannot be JSON; they are dropped (a diverged trial is marked by its state).
        let metrics = t.metrics.filter { $0.value.isFinite }
        let values: [(any DatabaseValueConvertible)?] = [
            t.number, t.group, t.state.rawValue, try TrialColumns.json(t.parameters), try TrialColumns.json(t.expressions), t.canonicalKey,
            t.objective.flatMap { $0.isFinite ? $0 : nil }, t.testAccuracy, try TrialColumns.json(metrics), t.epochs,
            t.seed.map { String($0) }, t.device, t.startedAt?.timeIntervalSince1970,
            t.finishedAt?.timeIntervalSince1970, t.trainSeconds, t.duplicateOf, t.worker, t.attempts, t.island,
        ]
        return StatementArguments(values)
    }

    static func record(_ row: Row) throws -> TrialRecord {
        let decoder = JSONDecoder()
        func decode<T: Decodable>(_ type: T.Type, _ column: String) throws -> T {
            let text: String = row[column]
            return try decoder.decode(T.self, from: Data(text.utf8))
        }
        let stateText: String = row["state"]
        let seedText: String? = row["seed"]
        let started: Double? = row["started_at"]
        let finished: Double? = row["finished_at"]
        return TrialRecord(
            number: row["number"], group: row["grp"], state: TrialState(rawValue: stateText) ?? .failed,
            parameters: try decode([String: String].self, "parameters"),
            expressions: try decode([String].self, "expressions"),
            canonicalKey: row["canonical_key"], objective: row["objective"], testAccuracy: row["test_accuracy"],
            metrics: try decode([String: Double].self, "metrics"), epochs: row["epochs"],
            seed: seedText.flatMap { UInt64($0) }, device: row["device"],
            startedAt: started.map { Date(timeIntervalSince1970: $0) },
            finishedAt: finished.map { Date(timeIntervalSince1970: $0) },
            trainSeconds: row["train_seconds"], duplicateOf: row["duplicate_of"],
            // A study written before workers existed (read without migrating) has neither column.
            worker: row["worker"], attempts: (row["attempts"] as Int?) ?? 0, island: row["island"])
    }
}
