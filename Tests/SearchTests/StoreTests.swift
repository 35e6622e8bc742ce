import Foundation
import Testing
@testable import Search

/// A fresh folder per test, removed afterwards.
func temporaryFolder(_ name: String = #function) throws -> URL {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("afsearch-tests-\(ProcessInfo.processInfo.processIdentifier)")
        .appendingPathComponent(name.filter { $0.isLetter || $0.isNumber } + "-" + UUID().uuidString.prefix(8))
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

private struct Settings: Codable, Equatable {
    var dataset: String
    var layers: Int
}

@Suite struct StoreTests {
    @Test func trialRoundTripsThroughSQLite() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("s1/study.sqlite").path
        let started = Date(timeIntervalSince1970: 1_700_000_000.25)
        let trial = TrialRecord(
            number: 3, group: "round-1", state: .complete, parameters: ["layer0": "relu", "layer1": "tanh"],
            expressions: ["relu(x)", "tanh(x)"], canonicalKey: "relu(x) | tanh(x)", objective: 0.875,
            testAccuracy: 0.8, metrics: ["validation_accuracy": 0.875, "train_accuracy": 0.9, "nan": .nan],
            epochs: 42, seed: UInt64.max, device: "pocl cpu", startedAt: started,
            finishedAt: started.addingTimeInterval(1.5), trainSeconds: 0.02, duplicateOf: nil)
        do {
            let store = try SQLiteStudyStore(path: path)
            #expect(store.studyName == "s1")
            try store.writeSettings(Settings(dataset: "keel/wine", layers: 5), kind: "alacarte")
            try store.insert([trial])
        }
        let reopened = try SQLiteStudyStore(path: path)
        var expected = trial
        expected.metrics["nan"] = nil  // non-finite metrics are not stored
        #expect(try reopened.trial(number: 3) == expected)
        #expect(try reopened.settings(as: Settings.self) == Settings(dataset: "keel/wine", layers: 5))
        #expect(try reopened.kind() == "alacarte")
        #expect(try reopened.nextTrialNumber() == 4)
        #expect(try reopened.finishedTrial(canonicalKey: "relu(x) | tanh(x)")?.number == 3)
        #expect(try reopened.finishedTrial(canonicalKey: "other") == nil)
    }

    /// Claims commit without waiting for the log's flush, results with it (`claimTransaction`): the connection is
    /// back at `synchronous = FULL` (2) after every claim, taken or refused, and a claimed trial's result is stored.
    @Test func claimsSkipTheFlushAndResultsKeepIt() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try SQLiteStudyStore(path: folder.appendingPathComponent("c/study.sqlite").path)
        func synchronous() throws -> Int? { try store.queue.read { try Int.fetchOne($0, sql: "PRAGMA synchronous") } }
        #expect(try synchronous() == 2)
        let point = TrialRecord(number: 0, group: "stream", state: .running, parameters: ["layer0": "relu"])
        let claimed = try #require(try store.claimNew(point, worker: "w", budget: 4))
        #expect(try synchronous() == 2)
        #expect(throws: StudyStoreError.self) { try store.claimNew(point, worker: "w", budget: 4) }
        #expect(try synchronous() == 2)
        #expect(try store.claimPending(worker: "w") == nil)
        #expect(try synchronous() == 2)
        var done = claimed
        done.state = .complete
        done.objective = 0.5
        #expect(try store.finish(done, worker: "w"))
        #expect(try store.trial(number: claimed.number)?.state == .complete)
    }

    @Test func batchInsertIsAllOrNothing() throws {
        let store = try SQLiteStudyStore(inMemoryNamed: "t")
        try store.insert([TrialRecord(number: 0), TrialRecord(number: 1)])
        #expect(throws: StudyStoreError.duplicateTrialNumber(study: "t", number: 1)) {
            try store.insert([TrialRecord(number: 2), TrialRecord(number: 1), TrialRecord(number: 3)])
        }
        #expect(try store.trials().map(\.number) == [0, 1])
        #expect(throws: StudyStoreError.unknownTrial(study: "t", number: 9)) {
            try store.update([TrialRecord(number: 0, state: .complete), TrialRecord(number: 9, state: .complete)])
        }
        #expect(try store.trial(number: 0)?.state == .pending)
    }

    @Test func resumeDropsUnfinishedKeepsFinishedAndNeverReusesNumbers() throws {
        let store = try SQLiteStudyStore(inMemoryNamed: "t")
        try store.insert((0..<6).map { TrialRecord(number: $0, state: $0 < 3 ? .complete : .pending, objective: Double($0)) })
        try store.update([TrialRecord(number: 3, state: .running)])
        #expect(try store.count(states: TrialState.unfinished) == 3)
        #expect(try store.discardUnfinished() == 3)
        #expect(try store.trials().map(\.number) == [0, 1, 2])
        // Numbers 3...5 were handed out before the crash; a resumed study continues after them.
        #expect(try store.nextTrialNumber() == 6)
        #expect(try store.bestTrials(limit: 2).map(\.number) == [2, 1])
        #expect(try store.trials(states: [.complete], group: "nope").isEmpty)
    }

    @Test func catalogListsStudiesAndRejectsBadNames() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let catalog = StudyCatalog(root: folder)
        let store = try catalog.open("wine-tpe", create: true)
        try store.writeSettingsJSON("{}", kind: "alacarte")
        try store.insert([TrialRecord(number: 0, state: .complete, objective: 0.5),
                          TrialRecord(number: 1, state: .diverged, objective: 0)])
        _ = try catalog.open("empty", create: true)
        #expect(catalog.names() == ["empty", "wine-tpe"])
        let summaries = catalog.summaries()
        #expect(summaries.map(\.finishedCount) == [0, 2])
        #expect(summaries[1].divergedCount == 1)
        #expect(summaries[1].bestObjective == 0.5)
        #expect(throws: StudyCatalog.CatalogError.self) { try catalog.open("../escape", create: true) }
        #expect(throws: StudyCatalog.CatalogError.self) { try catalog.open("missing", create: false) }
    }
}
