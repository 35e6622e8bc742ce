import Foundation

/// A study in a PostgreSQL database, which holds any number of studies (every row is keyed by the study's
/// name). Several workers on several machines share one: new claims serialise on the study's row lock
/// (`SELECT … FOR UPDATE`), requeued trials are taken with `FOR UPDATE SKIP LOCKED`, and times of
/// heartbeats and stale claims are the server's clock, so machines with skewed clocks agree.
public final class PostgresStudyStore: StudyStore, @unchecked Sendable {
    public let studyName: String
    /// `user@host:port/database`: where the study lives, without credentials.
    public let location: String
    let connection: PostgresConnection

    /// Opens the study `name` in the database at `url`; `create` makes the study (and the schema) when missing.
    public init(url: String, studyName name: String, create: Bool) throws {
        connection = try PostgresConnection(url: url)
        studyName = name
        location = connection.description
        try Self.migrate(connection)
        if create {
            try connection.execute(
                "INSERT INTO study (name, created_at) VALUES ($1, extract(epoch from now())) ON CONFLICT (name) DO NOTHING",
                [name])
        } else if try connection.execute("SELECT 1 FROM study WHERE name = $1", [name]).count == 0 {
            throw StudyStoreError.noSuchStudy(study: name, location: location, known: try Self.names(connection))
        }
    }

    /// The names of the studies in the database at `url`, sorted.
    public static func studyNames(url: String) throws -> [String] {
        let connection = try PostgresConnection(url: url)
        try migrate(connection)
        return try names(connection)
    }

    private static func names(_ connection: PostgresConnection) throws -> [String] {
        try connection.execute("SELECT name FROM study ORDER BY name").rows.compactMap { $0.first ?? nil }
    }

    /// Applies the missing steps of `StudySchema`, one process at a time (a transaction-scoped advisory lock).
    private static func migrate(_ connection: PostgresConnection) throws {
        try connection.transaction {
            try connection.execute("SELECT pg_advisory_xact_lock(727300001)")
            try connection.execute("""
                CREATE TABLE IF NOT EXISTS afsearch_migrations (id TEXT PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)
                """)
            let applied = Set(try connection.execute("SELECT id FROM afsearch_migrations").rows.compactMap { $0.first ?? nil })
            for step in StudySchema.steps where !applied.contains(step.id) {
                try connection.executeScript(step.postgres)
                try connection.execute(
                    "INSERT INTO afsearch_migrations (id, applied_at) VALUES ($1, extract(epoch from now()))", [step.id])
            }
        }
    }

    // MARK: settings

    public func settingsJSON() throws -> String? {
        try connection.execute("SELECT settings FROM study WHERE name = $1", [studyName]).scalar
    }

    public func kind() throws -> String? {
        try connection.execute("SELECT kind FROM study WHERE name = $1", [studyName]).scalar
    }

    public func writeSettingsJSON(_ json: String, kind: String) throws {
        try connection.execute("UPDATE study SET kind = $2, settings = $3 WHERE name = $1", [studyName, kind, json])
    }

    // MARK: trials

    private static let fields = [
        "number", "grp", "state", "parameters", "expressions", "canonical_key", "objective", "test_accuracy", "metrics",
        "epochs", "seed", "device", "started_at", "finished_at", "train_seconds", "duplicate_of", "worker", "attempts",
        "island",
    ]
    /// `INSERT INTO trial (study, …) VALUES ($1, …)`; `$1` is the study.
    private static let insertSQL = "INSERT INTO trial (study, \(fields.joined(separator: ", "))) VALUES ("
        + (1...(fields.count + 1)).map { "$\($0)" }.joined(separator: ", ") + ")"
    private static let upsertSQL = insertSQL + " ON CONFLICT (study, number) DO UPDATE SET "
        + fields.dropFirst().map { "\($0) = excluded.\($0)" }.joined(separator: ", ")

    private func values(_ trial: TrialRecord) throws -> [String?] {
        [studyName] + (try TrialColumns.texts(trial))
    }

    public func insert(_ trials: [TrialRecord]) throws {
        try write(trials, sql: Self.insertSQL)
    }

    public func upsert(_ trials: [TrialRecord]) throws {
        try write(trials, sql: Self.upsertSQL)
    }

    public func update(_ trials: [TrialRecord]) throws {
        try connection.transaction {
            for trial in trials {
                guard try connection.execute("SELECT 1 FROM trial WHERE study = $1 AND number = $2",
                                             [studyName, String(trial.number)]).count == 1 else {
                    throw StudyStoreError.unknownTrial(study: studyName, number: trial.number)
                }
                try connection.execute(Self.upsertSQL, try values(trial))
                try stampFinished(trial)
            }
        }
    }

    private func write(_ trials: [TrialRecord], sql: String) throws {
        do {
            try connection.transaction {
                // The study's row lock orders writers: the counters below stay exact.
                try connection.execute("SELECT 1 FROM study WHERE name = $1 FOR UPDATE", [studyName])
                for trial in trials {
                    try connection.execute(sql, try values(trial))
                    try stampFinished(trial)
                }
                try recount(top: trials.map(\.number).max())
            }
        } catch let PostgresError.statement(state, _) where state == "23505" {
            let existing = Set(try self.trials(states: nil, group: nil).map(\.number))
            let clash = trials.first { existing.contains($0.number) }?.number ?? -1
            throw StudyStoreError.duplicateTrialNumber(study: studyName, number: clash)
        }
    }

    /// Keeps the study's trial count and next number in step after inserts or deletes.
    private func recount(top: Int?) throws {
        try connection.execute("""
            UPDATE study SET trial_count = (SELECT COUNT(*) FROM trial WHERE study = $1),
                next_number = GREATEST(next_number, $2::bigint) WHERE name = $1
            """, [studyName, String((top ?? -1) + 1)])
    }

    /// Gives a trial that just became finished its place in the finish order (once).
    private func stampFinished(_ trial: TrialRecord) throws {
        guard trial.state.isFinished else {
            try connection.execute("UPDATE trial SET finished_seq = NULL WHERE study = $1 AND number = $2",
                                   [studyName, String(trial.number)])
            return
        }
        try connection.execute("""
            WITH seq AS (
                UPDATE study SET finished_seq = finished_seq + 1
                WHERE name = $1 AND EXISTS (SELECT 1 FROM trial WHERE study = $1 AND number = $2 AND finished_seq IS NULL)
                RETURNING finished_seq)
            UPDATE trial SET finished_seq = (SELECT finished_seq FROM seq) WHERE study = $1 AND number = $2
                AND EXISTS (SELECT 1 FROM seq)
            """, [studyName, String(trial.number)])
    }

    public func trials(states: Set<TrialState>?, group: String?, island: String?) throws -> [TrialRecord] {
        var clauses = ["study = $1"]
        var parameters: [String?] = [studyName]
        if let states {
            guard !states.isEmpty else { return [] }
            clauses.append(Self.stateClause(states))
        }
        if let group {
            parameters.append(group)
            clauses.append("grp = $\(parameters.count)")
        }
        if let island {
            parameters.append(island)
            clauses.append("island = $\(parameters.count)")
        }
        return try select("WHERE \(clauses.joined(separator: " AND ")) ORDER BY number", parameters)
    }

    private func select(_ tail: String, _ parameters: [String?]) throws -> [TrialRecord] {
        try connection.execute("SELECT * FROM trial \(tail)", parameters).all.map(TrialColumns.record)
    }

    public func trial(number: Int) throws -> TrialRecord? {
        try select("WHERE study = $1 AND number = $2", [studyName, String(number)]).first
    }

    public func finishedTrial(canonicalKey: String) throws -> TrialRecord? {
        try select("""
            WHERE study = $1 AND canonical_key = $2 AND state IN ('complete', 'failed', 'diverged') AND duplicate_of IS NULL
            ORDER BY number LIMIT 1
            """, [studyName, canonicalKey]).first
    }

    public func nextTrialNumber() throws -> Int {
        let text = try connection.execute("""
            SELECT GREATEST(s.next_number, COALESCE((SELECT MAX(number) + 1 FROM trial WHERE study = $1), 0))
            FROM study s WHERE s.name = $1
            """, [studyName]).scalar
        return text.flatMap { Int($0) } ?? 0
    }

    public func count(states: Set<TrialState>?) throws -> Int {
        guard let states else {
            return Int(try connection.execute("SELECT COUNT(*) FROM trial WHERE study = $1", [studyName]).scalar ?? "0") ?? 0
        }
        guard !states.isEmpty else { return 0 }
        return Int(try connection.execute(
            "SELECT COUNT(*) FROM trial WHERE study = $1 AND \(Self.stateClause(states))", [studyName]).scalar ?? "0") ?? 0
    }

    /// `state IN ('pending', 'running')`, written out (the states are the enum's own names) so that the
    /// planner matches the partial index of unfinished trials.
    private static func stateClause(_ states: Set<TrialState>) -> String {
        "state IN (" + states.map { "'\($0.rawValue)'" }.sorted().joined(separator: ", ") + ")"
    }

    public func numbers(states: Set<TrialState>) throws -> [Int] {
        guard !states.isEmpty else { return [] }
        return try connection.execute(
            "SELECT number FROM trial WHERE study = $1 AND \(Self.stateClause(states)) ORDER BY number", [studyName]
        ).rows.compactMap { $0.first.flatMap { $0.flatMap { Int($0) } } }
    }

    public func reserveTrialNumbers(_ count: Int) throws -> Int {
        let first = try connection.execute("""
            UPDATE study SET next_number = GREATEST(next_number, COALESCE((SELECT MAX(number) + 1 FROM trial WHERE study = $1), 0))
                + $2::bigint
            WHERE name = $1 RETURNING next_number - $2::bigint
            """, [studyName, String(count)]).scalar
        guard let first = first.flatMap({ Int($0) }) else {
            throw StudyStoreError.noSuchStudy(study: studyName, location: location, known: [])
        }
        return first
    }

    @discardableResult
    public func discardUnfinished(island: String?) throws -> Int {
        try connection.transaction {
            try connection.execute("SELECT 1 FROM study WHERE name = $1 FOR UPDATE", [studyName])
            let deleted = try connection.execute(
                "DELETE FROM trial WHERE study = $1 AND state IN ('pending', 'running')"
                    + (island == nil ? "" : " AND island = $2") + " RETURNING number",
                [studyName] + (island.map { [$0] } ?? [])).count
            try recount(top: nil)
            return deleted
        }
    }

    public func bestTrials(limit: Int) throws -> [TrialRecord] {
        try select("""
            WHERE study = $1 AND state IN ('complete', 'failed', 'diverged') AND objective IS NOT NULL
            ORDER BY objective DESC, number ASC LIMIT $2
            """, [studyName, String(limit)])
    }

    // MARK: workers and claims

    public func register(_ worker: WorkerIdentity, policy: ClaimPolicy) throws -> Int {
        try connection.transaction {
            try connection.execute("SELECT 1 FROM study WHERE name = $1 FOR UPDATE", [studyName])
            let live = Int(try connection.execute("""
                SELECT COUNT(*) FROM worker WHERE study = $1 AND stopped_at IS NULL AND id <> $2
                AND heartbeat_at >= extract(epoch from clock_timestamp()) - $3::float8
                """, [studyName, worker.id, String(policy.staleAfterSeconds)]).scalar ?? "0") ?? 0
            try connection.execute("""
                INSERT INTO worker (study, id, ordinal, host, pid, device, started_at, heartbeat_at)
                VALUES ($1, $2, $3, $4, $5, $6, extract(epoch from clock_timestamp()), extract(epoch from clock_timestamp()))
                ON CONFLICT (study, id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, stopped_at = NULL
                """, [studyName, worker.id, String(live), worker.host, String(worker.pid), worker.device])
            return live
        }
    }

    public func heartbeat(worker: String) throws {
        try connection.execute(
            "UPDATE worker SET heartbeat_at = extract(epoch from clock_timestamp()) WHERE study = $1 AND id = $2",
            [studyName, worker])
    }

    public func retire(worker: String) throws {
        try connection.transaction {
            try connection.execute(
                "UPDATE worker SET stopped_at = extract(epoch from clock_timestamp()) WHERE study = $1 AND id = $2",
                [studyName, worker])
            try connection.execute(
                "UPDATE trial SET state = 'pending', worker = NULL WHERE study = $1 AND state = 'running' AND worker = $2",
                [studyName, worker])
        }
    }

    public func workers() throws -> [WorkerRecord] {
        try connection.execute("SELECT * FROM worker WHERE study = $1 ORDER BY started_at, id", [studyName]).all.map { row in
            WorkerRecord(
                identity: WorkerIdentity(id: row["id"] ?? "", host: row["host"] ?? "", pid: row.int("pid") ?? 0,
                                         device: row["device"]),
                ordinal: row.int("ordinal") ?? 0,
                startedAt: Date(timeIntervalSince1970: row.double("started_at") ?? 0),
                heartbeatAt: Date(timeIntervalSince1970: row.double("heartbeat_at") ?? 0),
                stoppedAt: row.double("stopped_at").map { Date(timeIntervalSince1970: $0) })
        }
    }

    public func recoverStaleClaims(policy: ClaimPolicy, deadWorkers: Set<String>) throws -> ClaimRecovery {
        try connection.transaction {
            let claims = try connection.execute("""
                SELECT t.number, t.attempts FROM trial t LEFT JOIN worker w ON w.study = t.study AND w.id = t.worker
                WHERE t.study = $1 AND t.state = 'running' AND (w.id IS NULL OR w.stopped_at IS NOT NULL
                    OR w.heartbeat_at < extract(epoch from clock_timestamp()) - $2::float8
                    OR w.id = ANY(string_to_array($3, chr(31))))
                ORDER BY t.number FOR UPDATE OF t SKIP LOCKED
                """, [studyName, String(policy.staleAfterSeconds), deadWorkers.sorted().joined(separator: "\u{1F}")])
            var recovery = ClaimRecovery()
            for claim in claims.all {
                guard let number = claim.int("number") else { continue }
                if (claim.int("attempts") ?? 0) >= policy.maxAttempts {
                    try connection.execute("""
                        UPDATE trial SET state = 'failed', finished_at = extract(epoch from clock_timestamp())
                        WHERE study = $1 AND number = $2
                        """, [studyName, String(number)])
                    try stampFinished(TrialRecord(number: number, state: .failed))
                    recovery.failed.append(number)
                } else {
                    try connection.execute("UPDATE trial SET state = 'pending', worker = NULL WHERE study = $1 AND number = $2",
                                           [studyName, String(number)])
                    recovery.requeued.append(number)
                }
            }
            return recovery
        }
    }

    public func claimPending(worker: String) throws -> TrialRecord? {
        try connection.execute("""
            UPDATE trial SET state = 'running', worker = $2, attempts = attempts + 1,
                started_at = extract(epoch from clock_timestamp())
            WHERE study = $1 AND number = (
                SELECT number FROM trial WHERE study = $1 AND state = 'pending' ORDER BY number LIMIT 1 FOR UPDATE SKIP LOCKED)
            RETURNING *
            """, [studyName, worker]).all.first.map(TrialColumns.record)
    }

    /// One statement (one round trip, one commit): lock the study's row, check the budget, insert under the
    /// next number, count it.
    public func claimNew(_ trial: TrialRecord, worker: String, budget: Int) throws -> TrialRecord? {
        do {
            return try insertClaim(trial, worker: worker, budget: budget)
        } catch let PostgresError.statement(state, _) where state == "23505" {
            throw StudyStoreError.pointTaken(study: studyName, parameters: trial.parameters)
        }
    }

    private func insertClaim(_ trial: TrialRecord, worker: String, budget: Int) throws -> TrialRecord? {
        var claimed = trial
        claimed.state = .running
        claimed.worker = worker
        claimed.attempts = 1
        var values = try values(claimed)  // $1 study, then the fields but the number (the study's next one)
        values.remove(at: 1)
        let count = values.count
        // The claim commits without waiting for its WAL flush (synchronous_commit off for this transaction
        // only): a server crash can lose a claim made in the last moments before it, which the protocol already
        // treats as a claim never made (its worker's `finish` finds no running row of its own and is refused; the
        // number and the point go to the next claim). Results (`finish`) stay durable. Saves one flush per trial.
        let rows = try connection.execute("""
            WITH s AS (SELECT next_number, trial_count FROM study WHERE name = $1 FOR UPDATE),
            async AS (SELECT set_config('synchronous_commit', 'off', true)),
            ins AS (
                INSERT INTO trial (study, \(Self.fields.joined(separator: ", ")), claim_key)
                SELECT $1, s.next_number, \((2...count).map { "$\($0)" }.joined(separator: ", ")), $\(count + 2) FROM s, async
                WHERE s.trial_count < $\(count + 1)::bigint
                RETURNING number),
            upd AS (
                UPDATE study SET trial_count = trial_count + 1, next_number = next_number + 1
                WHERE name = $1 AND EXISTS (SELECT 1 FROM ins))
            SELECT number FROM ins
            """, values + [String(budget), try TrialColumns.json(trial.parameters)])
        guard let number = rows.scalar.flatMap({ Int($0) }) else { return nil }
        claimed.number = number
        return claimed
    }

    /// One statement: write the result only while `worker` holds the claim, and give it the next place in the
    /// finish order (the study's row lock keeps that order the commit order).
    public func finish(_ trial: TrialRecord, worker: String) throws -> Bool {
        try finishStatement(trial, worker: worker)
    }

    /// One transaction, one flush of the WAL, for a pool step's results (the study's row lock, taken by the first
    /// of them, is held to the commit, so their finish order is the commit order).
    public func finish(_ trials: [TrialRecord], worker: String) throws -> [Bool] {
        try connection.transaction { try trials.map { try finishStatement($0, worker: worker) } }
    }

    private func finishStatement(_ trial: TrialRecord, worker: String) throws -> Bool {
        var finished = trial
        finished.worker = worker
        let values = try values(finished)
        let count = values.count
        let assignments = Self.fields.dropFirst().enumerated().map { "\($0.element) = $\($0.offset + 3)" }.joined(separator: ", ")
        let rows = try connection.execute("""
            WITH held AS (
                SELECT number FROM trial WHERE study = $1 AND number = $2::bigint AND state = 'running' AND worker = $\(count + 1)
                FOR UPDATE),
            seq AS (
                UPDATE study SET finished_seq = finished_seq + 1
                WHERE name = $1 AND EXISTS (SELECT 1 FROM held) AND $4 IN ('complete', 'failed', 'diverged')
                RETURNING finished_seq)
            UPDATE trial SET \(assignments), finished_seq = (SELECT finished_seq FROM seq)
            WHERE study = $1 AND number = $2::bigint AND EXISTS (SELECT 1 FROM held)
            RETURNING number
            """, values + [worker])
        return rows.count == 1
    }

    public func finished(after cursor: Int) throws -> FinishedSince {
        let rows = try connection.execute(
            "SELECT * FROM trial WHERE study = $1 AND finished_seq > $2 ORDER BY finished_seq",
            [studyName, String(cursor)]).all
        return FinishedSince(trials: rows.map(TrialColumns.record), cursor: rows.last?.int("finished_seq") ?? cursor)
    }

    /// One statement: the trials finished after `cursor` (every column) and, after them, the unfinished ones
    /// (their numbers only, the other columns NULL), each part through its own partial index.
    public func progress(after cursor: Int) throws -> StudyProgress {
        let rows = try connection.execute("""
            (SELECT 0 AS part, \(Self.fields.joined(separator: ", ")), finished_seq FROM trial
                WHERE study = $1 AND finished_seq > $2)
            UNION ALL
            (SELECT 1, number, \(Array(repeating: "NULL", count: Self.fields.count - 1).joined(separator: ", ")), NULL FROM trial
                WHERE study = $1 AND state IN ('pending', 'running'))
            """, [studyName, String(cursor)]).all
        // UNION ALL promises no order across its parts: each is sorted here
        let finished = rows.filter { $0["part"] == "0" }.sorted { ($0.int("finished_seq") ?? 0) < ($1.int("finished_seq") ?? 0) }
        return StudyProgress(
            finished: FinishedSince(trials: finished.map(TrialColumns.record), cursor: finished.last?.int("finished_seq") ?? cursor),
            unfinished: rows.filter { $0["part"] == "1" }.compactMap { $0.int("number") }.sorted())
    }

    // MARK: islands

    /// One transaction per barrier; islands on other machines pass theirs concurrently (each writes only its own
    /// rows, and reads the others' committed batches).
    public func exchangeMigrants(island: String, generation: Int, outgoing: [OutgoingMigrant]) throws -> [Migrant] {
        try connection.transaction {
            if let taken = try connection.execute(
                "SELECT migrants FROM immigration WHERE study = $1 AND island = $2 AND generation = $3",
                [studyName, island, String(generation)]).scalar {
                let seqs = try Immigration.seqs(from: taken)
                let rows = try connection.execute("""
                    SELECT * FROM migrant WHERE study = $1 AND seq = ANY(string_to_array($2, ',')::bigint[])
                    """, [studyName, seqs.map(String.init).joined(separator: ",")]).all
                return MigrantSelection.recorded(seqs, among: rows.map(Self.migrant))
            }
            for migrant in outgoing {
                try connection.execute("""
                    INSERT INTO migrant (study, island, generation, population, payload, created_at)
                    VALUES ($1, $2, $3, $4, $5, extract(epoch from clock_timestamp()))
                    """, [studyName, island, String(generation), migrant.population, migrant.payload])
            }
            let newest = try connection.execute("""
                SELECT * FROM migrant m WHERE study = $1 AND island <> $2 AND generation = (
                    SELECT MAX(generation) FROM migrant n WHERE n.study = $1 AND n.island = m.island AND n.population = m.population)
                ORDER BY seq
                """, [studyName, island]).all.map(Self.migrant)
            var consumed = Set<Int>()
            for row in try connection.execute("SELECT migrants FROM immigration WHERE study = $1 AND island = $2",
                                              [studyName, island]).all {
                consumed.formUnion(try Immigration.seqs(from: row["migrants"] ?? "[]"))
            }
            let incoming = MigrantSelection.incoming(newestBatches: newest, island: island, consumed: consumed)
            try connection.execute("""
                INSERT INTO immigration (study, island, generation, migrants, created_at)
                VALUES ($1, $2, $3, $4, extract(epoch from clock_timestamp()))
                """, [studyName, island, String(generation), try TrialColumns.json(incoming.map(\.seq))])
            return incoming
        }
    }

    public func migrants() throws -> [Migrant] {
        try connection.execute("SELECT * FROM migrant WHERE study = $1 ORDER BY seq", [studyName]).all.map(Self.migrant)
    }

    public func immigrations() throws -> [Immigration] {
        try connection.execute("SELECT * FROM immigration WHERE study = $1 ORDER BY island, generation", [studyName]).all.map { row in
            Immigration(island: row["island"] ?? "", generation: row.int("generation") ?? 0,
                        migrants: (try? Immigration.seqs(from: row["migrants"] ?? "[]")) ?? [])
        }
    }

    private static func migrant(_ row: PostgresRow) -> Migrant {
        Migrant(seq: row.int("seq") ?? -1, island: row["island"] ?? "", generation: row.int("generation") ?? 0,
                population: row["population"] ?? "", payload: row["payload"] ?? "")
    }
}

/// A trial's columns as text (PostgreSQL's parameters and results), the same JSON columns as SQLite's.
enum TrialColumns {
    static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// The values of `PostgresStudyStore.fields`, in order.
    static func texts(_ t: TrialRecord) throws -> [String?] {
        func number(_ value: Double?) -> String? { value.flatMap { $0.isFinite ? String($0) : nil } }
        // Non-finite metrics cannot be JSON; they are dropped (a diverged trial is marked by its state).
        return [
            String(t.number), t.group, t.state.rawValue, try json(t.parameters), try json(t.expressions), t.canonicalKey,
            number(t.objective), number(t.testAccuracy), try json(t.metrics.filter { $0.value.isFinite }),
            t.epochs.map(String.init), t.seed.map { String($0) }, t.device,
            number(t.startedAt?.timeIntervalSince1970), number(t.finishedAt?.timeIntervalSince1970),
            number(t.trainSeconds), t.duplicateOf.map(String.init), t.worker, String(t.attempts), t.island,
        ]
    }

    static func record(_ row: PostgresRow) -> TrialRecord {
        func decode<T: Decodable>(_ type: T.Type, _ column: String, _ fallback: T) -> T {
            guard let text = row[column], let value = try? JSONDecoder().decode(T.self, from: Data(text.utf8)) else { return fallback }
            return value
        }
        return TrialRecord(
            number: row.int("number") ?? -1, group: row["grp"] ?? "",
            state: row["state"].flatMap(TrialState.init(rawValue:)) ?? .failed,
            parameters: decode([String: String].self, "parameters", [:]),
            expressions: decode([String].self, "expressions", []),
            canonicalKey: row["canonical_key"], objective: row.double("objective"), testAccuracy: row.double("test_accuracy"),
            metrics: decode([String: Double].self, "metrics", [:]), epochs: row.int("epochs"),
            seed: row["seed"].flatMap { UInt64($0) }, device: row["device"],
            startedAt: row.double("started_at").map { Date(timeIntervalSince1970: $0) },
            finishedAt: row.double("finished_at").map { Date(timeIntervalSince1970: $0) },
            trainSeconds: row.double("train_seconds"), duplicateOf: row.int("duplicate_of"),
            worker: row["worker"], attempts: row.int("attempts") ?? 0, island: row["island"])
    }
}
