import Foundation
import GRDB

/// Workers and claims in one SQLite file. Every step is one `BEGIN IMMEDIATE` transaction (GRDB's `write`), so
/// processes on one machine sharing the file take turns; the busy timeout makes a writer wait for the others.
extension SQLiteStudyStore {
    public func register(_ worker: WorkerIdentity, policy: ClaimPolicy) throws -> Int {
        try queue.write { db in
            let now = Date().timeIntervalSince1970
            let live = try Int.fetchOne(db, sql: """
                SELECT COUNT(*) FROM worker WHERE stopped_at IS NULL AND heartbeat_at >= ? AND id != ?
                """, arguments: [now - policy.staleAfterSeconds, worker.id]) ?? 0
            try db.execute(sql: """
                INSERT INTO worker (id, ordinal, host, pid, device, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, stopped_at = NULL
                """, arguments: [worker.id, live, worker.host, worker.pid, worker.device, now, now])
            return live
        }
    }

    public func heartbeat(worker: String) throws {
        try queue.write { db in
            try db.execute(sql: "UPDATE worker SET heartbeat_at = ? WHERE id = ?",
                           arguments: [Date().timeIntervalSince1970, worker])
        }
    }

    public func retire(worker: String) throws {
        try queue.write { db in
            try db.execute(sql: "UPDATE worker SET stopped_at = ? WHERE id = ?", arguments: [Date().timeIntervalSince1970, worker])
            try db.execute(sql: "UPDATE trial SET state = 'pending', worker = NULL WHERE state = 'running' AND worker = ?",
                           arguments: [worker])
        }
    }

    public func workers() throws -> [WorkerRecord] {
        try queue.read { db in
            guard try db.tableExists("worker") else { return [] }
            return try Row.fetchAll(db, sql: "SELECT * FROM worker ORDER BY started_at, id").map(Self.workerRecord)
        }
    }

    public func recoverStaleClaims(policy: ClaimPolicy, deadWorkers: Set<String>) throws -> ClaimRecovery {
        try queue.write { db in
            let cutoff = Date().timeIntervalSince1970 - policy.staleAfterSeconds
            var stale = Set(try String.fetchAll(
                db, sql: "SELECT id FROM worker WHERE stopped_at IS NOT NULL OR heartbeat_at < ?", arguments: [cutoff]))
            stale.formUnion(deadWorkers)
            let claims = try Row.fetchAll(db, sql: """
                SELECT number, worker, attempts FROM trial WHERE state = 'running'
                AND (worker IS NULL OR worker NOT IN (SELECT id FROM worker) OR worker IN (SELECT value FROM json_each(?)))
                ORDER BY number
                """, arguments: [String(decoding: try JSONEncoder().encode(stale.sorted()), as: UTF8.self)])
            var recovery = ClaimRecovery()
            for claim in claims {
                let number: Int = claim["number"]
                let attempts: Int = claim["attempts"]
                if attempts >= policy.maxAttempts {
                    try db.execute(sql: "UPDATE trial SET state = 'failed', finished_at = ? WHERE number = ?",
                                   arguments: [Date().timeIntervalSince1970, number])
                    try Self.stampFinished(db, TrialRecord(number: number, state: .failed))
                    recovery.failed.append(number)
                } else {
                    try db.execute(sql: "UPDATE trial SET state = 'pending', worker = NULL WHERE number = ?", arguments: [number])
                    recovery.requeued.append(number)
                }
            }
            return recovery
        }
    }

    /// A claim's transaction (`claimPending`, `claimNew`), committed without waiting for the log's flush
    /// (`synchronous = NORMAL` for it alone), as the PostgreSQL store commits its claims. The write-ahead log
    /// keeps commits in order and every result's commit flushes it, so a killed process loses nothing and a
    /// power loss at most the last claims, which the protocol treats as claims never made (their worker's
    /// `finish` is refused; the point goes to a later claim), never a result. Saves one fsync a trial.
    func claimTransaction<T>(_ body: (Database) throws -> T) throws -> T {
        try queue.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            let outcome = Result { () throws -> T in
                var result: T?
                try db.inTransaction(.immediate) {
                    result = try body(db)
                    return .commit
                }
                return result!
            }
            // Back to FULL before anything else commits on this connection, or the error says why not.
            try db.execute(sql: "PRAGMA synchronous = FULL")
            return try outcome.get()
        }
    }

    public func claimPending(worker: String) throws -> TrialRecord? {
        try claimTransaction { db in
            guard let number = try Int.fetchOne(
                db, sql: "SELECT number FROM trial WHERE state = 'pending' ORDER BY number LIMIT 1") else { return nil }
            try db.execute(sql: """
                UPDATE trial SET state = 'running', worker = ?, attempts = attempts + 1, started_at = ? WHERE number = ?
                """, arguments: [worker, Date().timeIntervalSince1970, number])
            return try Row.fetchOne(db, sql: "SELECT * FROM trial WHERE number = ?", arguments: [number]).map(Self.record)
        }
    }

    public func claimNew(_ trial: TrialRecord, worker: String, budget: Int) throws -> TrialRecord? {
        try claimTransaction { db in
            let stored = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM trial") ?? 0
            guard stored < budget else { return nil }
            let counter = try Int.fetchOne(db, sql: "SELECT next FROM trial_counter WHERE id = 1") ?? 0
            let top = try Int.fetchOne(db, sql: "SELECT MAX(number) FROM trial").map { $0 + 1 } ?? 0
            var claimed = trial
            claimed.number = max(counter, top)
            claimed.state = .running
            claimed.worker = worker
            claimed.attempts = 1
            do {
                try db.execute(sql: "INSERT INTO trial (\(Self.columns), claim_key) VALUES (\(Self.placeholders), ?)",
                               arguments: try Self.arguments(claimed) + [try TrialColumns.json(claimed.parameters)])
            } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
                throw StudyStoreError.pointTaken(study: studyName, parameters: trial.parameters)
            }
            try db.execute(sql: "UPDATE trial_counter SET next = ? WHERE id = 1", arguments: [claimed.number + 1])
            return claimed
        }
    }

    public func finish(_ trial: TrialRecord, worker: String) throws -> Bool {
        try queue.write { db in try Self.finish(db, trial, worker: worker) }
    }

    /// One transaction, one flush of the log, for a pool step's results.
    public func finish(_ trials: [TrialRecord], worker: String) throws -> [Bool] {
        try queue.write { db in try trials.map { try Self.finish(db, $0, worker: worker) } }
    }

    private static func finish(_ db: Database, _ trial: TrialRecord, worker: String) throws -> Bool {
        let holder = try Row.fetchOne(db, sql: "SELECT state, worker FROM trial WHERE number = ?", arguments: [trial.number])
        guard let holder, (holder["state"] as String) == "running", (holder["worker"] as String?) == worker else {
            return false  // the claim went stale and was requeued: another attempt owns the trial now
        }
        var finished = trial
        finished.worker = worker
        try db.execute(
            sql: "INSERT INTO trial (\(Self.columns)) VALUES (\(Self.placeholders)) ON CONFLICT(number) DO UPDATE SET \(Self.assignments)",
            arguments: try Self.arguments(finished))
        try Self.stampFinished(db, finished)
        return true
    }

    public func finished(after cursor: Int) throws -> FinishedSince {
        try queue.read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT * FROM trial WHERE finished_seq > ? ORDER BY finished_seq
                """, arguments: [cursor])
            let last = rows.last.map { $0["finished_seq"] as Int } ?? cursor
            return FinishedSince(trials: try rows.map(Self.record), cursor: last)
        }
    }

    public func progress(after cursor: Int) throws -> StudyProgress {
        try queue.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT * FROM trial WHERE finished_seq > ? ORDER BY finished_seq", arguments: [cursor])
            let last = rows.last.map { $0["finished_seq"] as Int } ?? cursor
            let unfinished = try Int.fetchAll(db, sql: "SELECT number FROM trial WHERE state IN ('pending', 'running') ORDER BY number")
            return StudyProgress(finished: FinishedSince(trials: try rows.map(Self.record), cursor: last), unfinished: unfinished)
        }
    }

    static func workerRecord(_ row: Row) -> WorkerRecord {
        let stopped: Double? = row["stopped_at"]
        return WorkerRecord(
            identity: WorkerIdentity(id: row["id"], host: row["host"], pid: row["pid"], device: row["device"]),
            ordinal: row["ordinal"], startedAt: Date(timeIntervalSince1970: row["started_at"]),
            heartbeatAt: Date(timeIntervalSince1970: row["heartbeat_at"]),
            stoppedAt: stopped.map { Date(timeIntervalSince1970: $0) })
    }
}
