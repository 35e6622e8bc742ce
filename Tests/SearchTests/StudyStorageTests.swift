import Foundation
import TestSupport
import Testing
@testable import Search

/// The two back-ends of a study, opened fresh for each test: a SQLite file, and a study in the throwaway
/// PostgreSQL server (`PostgresTestServer`: a real server; when it cannot start these tests fail with why).
enum Backend: String, CaseIterable, CustomTestStringConvertible {
    case sqlite, postgres
    var testDescription: String { rawValue }

    /// A storage and a fresh study name in it.
    func storage(_ test: String = #function) throws -> (storage: StudyStorage, study: String, cleanup: () -> Void) {
        let study = test.filter { $0.isLetter || $0.isNumber }.prefix(40) + "-" + UUID().uuidString.prefix(8).lowercased()
        switch self {
        case .sqlite:
            let folder = try temporaryFolder(test)
            return (try StudyStorage("sqlite:" + folder.appendingPathComponent("\(study)/study.sqlite").path), String(study),
                    { try? FileManager.default.removeItem(at: folder) })
        case .postgres:
            return (try StudyStorage(try PostgresTestServer.shared().url), String(study), {})
        }
    }
}

/// The synthetic evaluator with a pause per batch, so that in-process workers interleave as processes would.
final class PausingEvaluator: CandidateEvaluator, @unchecked Sendable {
    let inner: SyntheticEvaluator
    var deviceDescription: String { inner.deviceDescription }
    init(objective: SeparableObjective) { inner = SyntheticEvaluator(objective: objective) }
    func key(of candidate: SlotActivations) -> String { inner.key(of: candidate) }
    func evaluate(_ candidates: [SlotActivations]) async throws -> EvaluationBatch {
        try await Task.sleep(nanoseconds: 5_000_000)
        return try await inner.evaluate(candidates)
    }
    func scoreOnTest(_ candidate: SlotActivations) async throws -> TestScore { try await inner.scoreOnTest(candidate) }
}

@Suite struct StudyStorageTests {
    @Test(arguments: Backend.allCases)
    func storesTheSameTrialsOnBothBackends(backend: Backend) throws {
        let (storage, study, cleanup) = try backend.storage()
        defer { cleanup() }
        let store = try storage.open(study, create: true)
        #expect(try store.settingsJSON() == nil)
        try store.writeSettingsJSON(#"{"a":1}"#, kind: "alacarte")
        let started = Date(timeIntervalSince1970: 1_700_000_000.25)
        let trial = TrialRecord(
            number: 3, group: "g", state: .complete, parameters: ["layer0": "relu"], expressions: ["relu(x)"],
            canonicalKey: "k", objective: 0.875, testAccuracy: nil, metrics: ["train_accuracy": 0.9, "nan": .nan],
            epochs: 42, seed: UInt64.max, device: "d", startedAt: started, finishedAt: started.addingTimeInterval(1.5),
            trainSeconds: 0.02, duplicateOf: nil)
        try store.insert([trial, TrialRecord(number: 4, state: .running, parameters: ["layer0": "tanh"])])
        #expect(throws: StudyStoreError.duplicateTrialNumber(study: study, number: 4)) {
            try store.insert([TrialRecord(number: 5), TrialRecord(number: 4)])
        }
        #expect(throws: StudyStoreError.unknownTrial(study: study, number: 9)) { try store.update([TrialRecord(number: 9)]) }

        let reopened = try storage.openForReading(study)
        var expected = trial
        expected.metrics["nan"] = nil
        #expect(try reopened.trial(number: 3) == expected)
        #expect(try reopened.kind() == "alacarte")
        #expect(try reopened.settingsJSON() == #"{"a":1}"#)
        #expect(try reopened.nextTrialNumber() == 5)
        #expect(try reopened.count(states: [.running]) == 1)
        #expect(try reopened.finishedTrial(canonicalKey: "k")?.number == 3)
        #expect(try reopened.bestTrials(limit: 5).map(\.number) == [3])
        #expect(try storage.names().contains(study))
        #expect(try reopened.finished(after: 0).trials.map(\.number) == [3])
        let look = try reopened.progress(after: 0)
        #expect(look.finished.trials == [expected] && look.finished.cursor >= 1 && look.unfinished == [4])
        #expect(try reopened.progress(after: look.finished.cursor).finished.trials.isEmpty)
        #expect(try store.discardUnfinished() == 1)
        #expect(try store.trials().map(\.number) == [3])
        #expect(try store.nextTrialNumber() == 5, "numbers are never reused")
    }

    @Test(arguments: Backend.allCases)
    func claimsRespectTheBudgetAndTheirOwner(backend: Backend) throws {
        let (storage, study, cleanup) = try backend.storage()
        defer { cleanup() }
        let store = try storage.open(study, create: true)
        let policy = ClaimPolicy(heartbeatSeconds: 0.1, staleAfterSeconds: 0.5, maxAttempts: 2)
        let a = WorkerIdentity(id: "a", host: "elsewhere", pid: 1, device: nil)
        let b = WorkerIdentity(id: "b", host: "elsewhere", pid: 2, device: nil)
        #expect(try store.register(a, policy: policy) == 0)
        #expect(try store.register(b, policy: policy) == 1, "a is live: b draws its own sequence")

        let first = try #require(try store.claimNew(TrialRecord(number: 99, parameters: ["p": "0"]), worker: "a", budget: 3))
        let second = try #require(try store.claimNew(TrialRecord(number: 99, parameters: ["p": "1"]), worker: "b", budget: 3))
        let third = try #require(try store.claimNew(TrialRecord(number: 99, parameters: ["p": "2"]), worker: "a", budget: 3))
        let numbers: [Int] = [first.number, second.number, third.number]
        #expect(numbers == [0, 1, 2])
        #expect(first.state == .running && first.worker == "a" && first.attempts == 1)
        #expect(try store.claimNew(TrialRecord(number: 99), worker: "b", budget: 3) == nil, "the budget is full")
        #expect(throws: StudyStoreError.pointTaken(study: study, parameters: ["p": "1"]), "a point is claimed once") {
            try store.claimNew(TrialRecord(number: 99, parameters: ["p": "1"]), worker: "a", budget: 10)
        }

        var done = second
        done.state = .complete
        done.objective = 0.5
        #expect(try store.finish(done, worker: "a") == false, "only the claim's holder may finish it")
        #expect(try store.finish(done, worker: "b"))
        let news = try store.finished(after: 0)
        #expect(news.trials.map(\.number) == [1])
        #expect(try store.finished(after: news.cursor).trials.isEmpty)

        // a stops beating; b keeps beating: a's claims are requeued, then claimed again by b.
        Thread.sleep(forTimeInterval: 0.7)
        try store.heartbeat(worker: "b")
        let recovery = try store.recoverStaleClaims(policy: policy, deadWorkers: [])
        #expect(recovery.requeued == [0, 2] && recovery.failed.isEmpty)
        #expect(try store.count(states: [.pending]) == 2)
        var retry = try #require(try store.claimPending(worker: "b"))
        #expect(retry.number == 0 && retry.attempts == 2 && retry.worker == "b" && retry.parameters == ["p": "0"])
        retry.state = .complete
        retry.objective = 0.25
        #expect(try store.finish(retry, worker: "a") == false, "a lost its claim")
        #expect(try store.finish(retry, worker: "b"))

        // Trial 2's second claim also goes stale: with maxAttempts 2 it is failed, not requeued again.
        _ = try #require(try store.claimPending(worker: "a"))
        let last = try store.recoverStaleClaims(policy: policy, deadWorkers: ["a"])
        #expect(last.failed == [2] && last.requeued.isEmpty)
        #expect(try store.trial(number: 2)?.state == .failed)
        #expect(try store.count(states: TrialState.finished) == 3)
        #expect(try store.finished(after: news.cursor).trials.map(\.number) == [0, 2])

        try store.retire(worker: "b")
        #expect(try store.workers().map(\.identity.id) == ["a", "b"])
        #expect(try store.workers().last?.stoppedAt != nil)
    }

    /// PostgreSQL commits a claim without waiting for its WAL flush, so a server crash can lose the last claims.
    /// The setting stays with the claim's transaction (results are still flushed), and a lost claim is a claim
    /// never made: its worker's finish is refused and the next claim takes its number.
    /// A pool step's results go in one transaction (`finish(_:worker:)` with several trials): in the order
    /// given, each only by its claim's holder.
    @Test(arguments: Backend.allCases)
    func aStepsResultsAreFinishedTogetherInOrder(backend: Backend) throws {
        let (storage, study, cleanup) = try backend.storage()
        defer { cleanup() }
        let store = try storage.open(study, create: true)
        let policy = ClaimPolicy()
        _ = try store.register(WorkerIdentity(id: "a", host: "elsewhere", pid: 1, device: nil), policy: policy)
        _ = try store.register(WorkerIdentity(id: "b", host: "elsewhere", pid: 2, device: nil), policy: policy)
        var claims: [TrialRecord] = []
        for (p, worker) in [("0", "a"), ("1", "a"), ("2", "b")] {
            var claim = try #require(try store.claimNew(TrialRecord(number: 99, parameters: ["p": p]), worker: worker, budget: 10))
            claim.state = .complete
            claim.objective = Double(p)! / 10
            claims.append(claim)
        }
        #expect(try store.finish([claims[1], claims[2], claims[0]], worker: "a") == [true, false, true],
                "b's claim is b's to finish")
        #expect(try store.finished(after: 0).trials.map(\.number) == [1, 0], "the finish order is the order given")
        #expect(try store.trial(number: 2)?.state == .running)
        #expect(try store.finish([], worker: "a") == [])
    }

    @Test func aClaimLostInACrashIsAClaimNeverMade() throws {
        let (storage, study, cleanup) = try Backend.postgres.storage()
        defer { cleanup() }
        let store = try #require(try storage.open(study, create: true) as? PostgresStudyStore)
        let claimed = try #require(try store.claimNew(TrialRecord(number: 99, parameters: ["p": "0"]), worker: "a", budget: 2))
        #expect(try store.connection.execute("SHOW synchronous_commit").scalar == "on", "only the claim commits without the flush")
        // What a crash before the flush leaves: the claim's insert and its count gone together.
        try store.connection.execute("DELETE FROM trial WHERE study = $1 AND number = $2::bigint", [study, String(claimed.number)])
        try store.connection.execute("UPDATE study SET trial_count = trial_count - 1, next_number = next_number - 1 WHERE name = $1", [study])
        var done = claimed
        done.state = .complete
        done.objective = 0.5
        #expect(try store.finish(done, worker: "a") == false, "the lost claim's result is refused")
        let again = try #require(try store.claimNew(TrialRecord(number: 99, parameters: ["p": "1"]), worker: "b", budget: 2))
        #expect(again.number == claimed.number)
        #expect(try store.finish(done, worker: "a") == false, "the number is b's now")
    }

    /// Several workers (each with its own connection) on one study: exactly the budget, no number twice,
    /// every point distinct, and each worker ends with the whole study's best.
    @Test(arguments: Backend.allCases)
    func concurrentWorkersFinishExactlyTheBudget(backend: Backend) async throws {
        let (storage, study, cleanup) = try backend.storage()
        defer { cleanup() }
        let space = try syntheticSpace(layers: 3, choices: 6)
        let objective = SeparableObjective(layers: 3, choices: 6, seed: 9)
        let settings = syntheticSettings(space: space, trials: 60, population: 4, sampler: .tpe)
        let outcomes = try await withThrowingTaskGroup(of: AlaCarteOutcome.self) { group in
            for index in 0..<3 {
                let store = try storage.open(study, create: true)
                group.addTask {
                    try await AlaCarteStudy(space: space, settings: settings, evaluator: PausingEvaluator(objective: objective),
                                            store: store).run(
                        worker: WorkerIdentity(id: "w\(index)", host: "test", pid: -1, device: nil),
                        policy: ClaimPolicy(heartbeatSeconds: 0.2, staleAfterSeconds: 5))
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let all = try storage.openForReading(study).trials()
        #expect(all.count == 60 && all.allSatisfy { $0.state == .complete })
        #expect(all.map(\.number) == Array(0..<60))
        #expect(Set(all.map(\.parameters)).count == 60, "no point was proposed twice")
        #expect(outcomes.map(\.trialsTrainedHere).reduce(0, +) == 60)
        #expect(Set(outcomes.map(\.bestTrialNumber)).count == 1)
        #expect(Set(all.compactMap(\.worker)) == ["w0", "w1", "w2"])
    }

    @Test func storageURLsAreParsedAndNeverShowAPassword() throws {
        let url = "postgresql://alice:s3cret@db.example:5433/afs?sslmode=require&password=other"
        let storage = try StudyStorage(url)
        #expect(storage.isShared)
        #expect(!storage.description.contains("s3cret") && !storage.description.contains("other"))
        #expect(storage.description.contains("sslmode=require") && storage.description.contains("db.example:5433/afs"))
        #expect(throws: StudyStorage.StorageError.self) { try StudyStorage("mysql://bob:hunter2@x/y") }
        do {
            _ = try StudyStorage("mysql://bob:hunter2@x/y")
        } catch {
            #expect(!"\(error)".contains("hunter2"))
        }
        if case let .sqliteFile(path) = try StudyStorage("sqlite:/tmp/a/study.sqlite") { #expect(path == "/tmp/a/study.sqlite") }
        else { Issue.record("sqlite: URL not parsed as a file") }
    }

    @Test func aWrongPasswordFailsWithoutEchoingIt() throws {
        let server = try PostgresTestServer.shared()
        // The test server trusts loopback; a missing database gives libpq's own error, which must not carry
        // the URL's password.
        let url = "postgresql://afsearch:topsecret@127.0.0.1:\(server.port)/no_such_database"
        do {
            _ = try StudyStorage(url).open("s", create: true)
            Issue.record("opened a database that does not exist")
        } catch {
            #expect("\(error)".contains("no_such_database"))
            #expect(!"\(error)".contains("topsecret"))
        }
    }
}
