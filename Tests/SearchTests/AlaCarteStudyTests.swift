import Foundation
import Kernels
import Testing
@testable import Search

/// Scores a candidate by a fixed function of its menu entries (the constant each synthetic entry holds),
/// records everything it trains, and can fail on a chosen call to stand in for a process killed mid-batch.
final class SyntheticEvaluator: CandidateEvaluator, @unchecked Sendable {
    struct Killed: Error {}
    private let lock = NSLock()
    private var calls = 0
    private(set) var trained: [SlotActivations] = []
    private(set) var testScored: [SlotActivations] = []
    let failOnCall: Int?
    let objective: SeparableObjective
    let deviceDescription = "synthetic"

    init(objective: SeparableObjective, failOnCall: Int? = nil) {
        self.objective = objective
        self.failOnCall = failOnCall
    }

    static func point(_ candidate: SlotActivations) -> [Int] {
        candidate.map { if case let .constant(v) = $0 { return Int(v) } else { return -1 } }
    }

    func key(of candidate: SlotActivations) -> String { CandidateIdentity.structural.functionKey(of: candidate) }

    func evaluate(_ candidates: [SlotActivations]) async throws -> EvaluationBatch {
        try lock.withLock {
            calls += 1
            if calls == failOnCall { throw Killed() }
            trained += candidates
        }
        let scores = candidates.map { candidate in
            let value = objective(Self.point(candidate))
            return CandidateScore(objective: value, validationAccuracy: value, trainAccuracy: value, diverged: false,
                                  epochs: 3, source: .trained, key: key(of: candidate))
        }
        return EvaluationBatch(scores: scores, trainedCount: candidates.count, duplicatesSkipped: 0, trainSeconds: 0.001)
    }

    func scoreOnTest(_ candidate: SlotActivations) async throws -> TestScore {
        lock.withLock { testScored.append(candidate) }
        return TestScore(testAccuracy: objective(Self.point(candidate)) - 0.01, validationAccuracy: nil,
                         trainAccuracy: nil, diverged: false, epochs: 3)
    }
}

func syntheticSettings(space: AlaCarteSpace, trials: Int, population: Int, sampler: SamplerKind = .tpe) -> AlaCarteSettings {
    AlaCarteSettings(dataset: "synthetic", layers: space.layers, trials: trials, sampler: sampler, population: population,
                     seed: 42, menuName: "synthetic", menuEntries: space.menu.map(\.name),
                     training: TrainingSetup(hiddenWidths: Array(repeating: 8, count: space.layers - 1), slotCount: space.layers))
}

@Suite struct AlaCarteStudyTests {
    @Test func studyRecordsEveryTrialAndScoresOnlyTheBestOnTest() async throws {
        let space = try syntheticSpace(layers: 3, choices: 6)
        let objective = SeparableObjective(layers: 3, choices: 6, seed: 9)
        let evaluator = SyntheticEvaluator(objective: objective)
        let store = try SQLiteStudyStore(inMemoryNamed: "s")
        let study = try AlaCarteStudy(space: space, settings: syntheticSettings(space: space, trials: 45, population: 8),
                                      evaluator: evaluator, store: store)
        let outcome = try await study.run()
        let trials = try store.trials()
        #expect(trials.count == 45)
        #expect(trials.allSatisfy { $0.state == .complete })
        #expect(Set(trials.map(\.parameters)).count == 45)
        #expect(trials.map(\.number) == Array(0..<45))
        let best = trials.max { ($0.objective!, -$0.number) < ($1.objective!, -$1.number) }!
        #expect(outcome.bestTrialNumber == best.number)
        #expect(outcome.bestChoices == (0..<3).map { best.parameters["layer\($0)"]! })
        #expect(evaluator.testScored.count == 1)
        #expect(try store.trial(number: best.number)?.testAccuracy == outcome.test.testAccuracy)
        #expect(trials.filter { $0.testAccuracy != nil }.count == 1)

        // Running the finished study again trains nothing and does not read the test set again.
        let again = SyntheticEvaluator(objective: objective)
        let rerun = try await AlaCarteStudy(space: space, settings: syntheticSettings(space: space, trials: 45, population: 8),
                                            evaluator: again, store: store).run()
        #expect(again.trained.isEmpty && again.testScored.isEmpty)
        #expect(rerun.bestTrialNumber == outcome.bestTrialNumber)
    }

    @Test(arguments: [SamplerKind.random, .tpe])
    func killedStudyResumesWithNoFinishedTrialLostOrRepeated(sampler: SamplerKind) async throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("kill/study.sqlite").path
        let space = try syntheticSpace(layers: 3, choices: 5)
        let objective = SeparableObjective(layers: 3, choices: 5, seed: 4)
        let settings = syntheticSettings(space: space, trials: 50, population: 8, sampler: sampler)

        let dying = SyntheticEvaluator(objective: objective, failOnCall: 4)
        await #expect(throws: SyntheticEvaluator.Killed.self) {
            _ = try await AlaCarteStudy(space: space, settings: settings, evaluator: dying,
                                        store: try SQLiteStudyStore(path: path)).run()
        }
        // What the failed run leaves: three committed batches and its fourth batch back in the queue (a kill -9
        // leaves it running; the next worker requeues it when it finds the process gone).
        let crashed = try SQLiteStudyStore(path: path)
        let finishedBefore = try crashed.trials(states: TrialState.finished)
        #expect(finishedBefore.count == 24)
        #expect(try crashed.count(states: [.pending]) == 8)

        let fresh = SyntheticEvaluator(objective: objective)
        let outcome = try await AlaCarteStudy(space: space, settings: settings, evaluator: fresh,
                                              store: try SQLiteStudyStore(path: path)).run()
        let store = try SQLiteStudyStore(path: path)
        let all = try store.trials()
        #expect(outcome.trialsResumed == 24)
        #expect(all.count == 50 && all.allSatisfy { $0.state.isFinished })
        // Every trial finished before the kill is still there, unchanged (except the best one's test score).
        for before in finishedBefore {
            var after = try #require(try store.trial(number: before.number))
            after.testAccuracy = before.testAccuracy
            #expect(after == before)
        }
        // Nothing trained twice: the resumed run trained exactly the 26 missing points, none seen before.
        let trainedBefore = Set(dying.trained.map(SyntheticEvaluator.point))
        let trainedAfter = fresh.trained.map(SyntheticEvaluator.point)
        #expect(trainedAfter.count == 26)
        #expect(Set(trainedAfter).count == 26)
        #expect(trainedBefore.intersection(trainedAfter).isEmpty)
        #expect(Set(all.map(\.parameters)).count == 50)
        // The abandoned batch was claimed again under its numbers (its run returned its claims as it failed).
        #expect(all.filter { (24..<32).contains($0.number) }.allSatisfy { $0.attempts == 2 })
        #expect(all.filter { !(24..<32).contains($0.number) }.allSatisfy { $0.attempts == 1 })
    }

    /// Another setting is refused; a population chosen for this process's device (no --population) gives way
    /// to the stored one instead: the study keeps the width it started with.
    @Test func resumingWithOtherSettingsIsRefused() async throws {
        let space = try syntheticSpace(layers: 2, choices: 4)
        let store = try SQLiteStudyStore(inMemoryNamed: "s")
        let evaluator = SyntheticEvaluator(objective: SeparableObjective(layers: 2, choices: 4, seed: 1))
        _ = try await AlaCarteStudy(space: space, settings: syntheticSettings(space: space, trials: 5, population: 5),
                                    evaluator: evaluator, store: store).run()
        var other = syntheticSettings(space: space, trials: 5, population: 5)
        other.sampler = .random
        await #expect(throws: StudyStoreError.settingsMismatch(study: "s", key: "sampler", stored: "tpe", requested: "random")) {
            _ = try await AlaCarteStudy(space: space, settings: other, evaluator: evaluator, store: store).run()
        }
        let wider = syntheticSettings(space: space, trials: 7, population: 7)
        await #expect(throws: StudyStoreError.settingsMismatch(study: "s", key: "population", stored: "5", requested: "7")) {
            _ = try await AlaCarteStudy(space: space, settings: wider, evaluator: evaluator, store: store).run()
        }
        let chosen = try AlaCarteStudy(space: space, settings: wider, evaluator: evaluator, store: store)
        chosen.adoptsStoredPopulation = true
        #expect(try await chosen.run().trialsFinished == 7)
        #expect(chosen.settings.population == 5)
        #expect(try store.settings(as: AlaCarteSettings.self)?.population == 5)
    }
}
