import Foundation
import GPUEngine
import Kernels
import Testing
@testable import Search

/// A stand-in for the slot pool: `slots` candidates "train" at once, each for 1–6 steps (a fixed function of
/// its point), and leave in the order they finish, so the study sees the interleaving of a real stream. It can
/// fail at the first step boundary after a number of results (once the study committed them), as a process
/// killed mid-stream.
final class StreamingSyntheticEvaluator: StreamingCandidateEvaluator, @unchecked Sendable {
    struct Killed: Error {}
    let objective: SeparableObjective
    let failAfter: Int?
    let deviceDescription = "synthetic stream"
    private(set) var trained: [[Int]] = []
    private(set) var testScored = 0
    private(set) var mostAtOnce = 0
    /// Results given to `finished` so far.
    var resultsHandedOut: Int { results }
    private var results = 0

    init(objective: SeparableObjective, failAfter: Int? = nil) {
        self.objective = objective
        self.failAfter = failAfter
    }

    var canStream: Bool { true }
    func key(of candidate: SlotActivations) -> String { CandidateIdentity.structural.functionKey(of: candidate) }

    func score(_ point: [Int], key: String) -> CandidateScore {
        let value = objective(point)
        return CandidateScore(objective: value, validationAccuracy: value, trainAccuracy: value, diverged: false,
                              epochs: steps(point), source: .trained, key: key)
    }

    func steps(_ point: [Int]) -> Int { 1 + point.enumerated().reduce(0) { $0 + ($1.offset + 2) * $1.element } % 6 }

    func stream(slots: Int, next: () throws -> StreamItem?, finished: (StreamItem, CandidateScore) throws -> Void,
                boundary: (Int) throws -> Void) throws -> PoolStatistics {
        var stats = PoolStatistics(slots: slots)
        var pool: [(item: StreamItem, left: Int)] = []
        var exhausted = false
        results = 0
        while true {
            try boundary(exhausted ? 0 : slots - pool.count)
            if let failAfter, results >= failAfter { throw Killed() }
            while pool.count < slots && !exhausted {
                guard let item = try next() else { exhausted = true; break }
                let point = SyntheticEvaluator.point(item.activations)
                trained.append(point)
                pool.append((item, steps(point)))
            }
            mostAtOnce = max(mostAtOnce, pool.count)
            if pool.isEmpty { break }
            stats.steps += 1
            stats.slotEpochs += slots
            stats.candidateEpochs += pool.count
            for i in pool.indices { pool[i].left -= 1 }
            for done in pool.filter({ $0.left == 0 }) {
                try finished(done.item, score(SyntheticEvaluator.point(done.item.activations), key: key(of: done.item.activations)))
                results += 1
            }
            pool.removeAll { $0.left == 0 }
        }
        return stats
    }

    func evaluate(_ candidates: [SlotActivations]) async throws -> EvaluationBatch {
        Issue.record("a streaming evaluator is never asked for batches")
        return EvaluationBatch(scores: [], trainedCount: 0, duplicatesSkipped: 0, trainSeconds: 0)
    }

    func scoreOnTest(_ candidate: SlotActivations) async throws -> TestScore {
        testScored += 1
        return TestScore(testAccuracy: objective(SyntheticEvaluator.point(candidate)), validationAccuracy: nil,
                         trainAccuracy: nil, diverged: false, epochs: 3)
    }
}

@Suite struct AlaCarteStreamingTests {
    @Test(arguments: [SamplerKind.random, .tpe])
    func aStreamingStudyFinishesExactlyItsTrialsEachCommittedOnce(sampler: SamplerKind) async throws {
        let space = try syntheticSpace(layers: 3, choices: 6)
        let evaluator = StreamingSyntheticEvaluator(objective: SeparableObjective(layers: 3, choices: 6, seed: 3))
        let store = try SQLiteStudyStore(inMemoryNamed: "s")
        let outcome = try await AlaCarteStudy(space: space, settings: syntheticSettings(space: space, trials: 45, population: 8, sampler: sampler),
                                              evaluator: evaluator, store: store).run()
        let trials = try store.trials()
        #expect(trials.count == 45 && trials.allSatisfy { $0.state == .complete && $0.group == "stream" })
        #expect(trials.map(\.number) == Array(0..<45))
        #expect(Set(trials.map(\.parameters)).count == 45)
        #expect(evaluator.trained.count == 45 && evaluator.mostAtOnce == 8, "8 slots kept busy, nothing trained twice")
        #expect(evaluator.testScored == 1)
        #expect(outcome.pool?.candidateEpochs == trials.reduce(0) { $0 + ($1.epochs ?? 0) })
        let best = trials.max { ($0.objective!, -$0.number) < ($1.objective!, -$1.number) }!
        #expect(outcome.bestTrialNumber == best.number)
    }

    @Test(arguments: [SamplerKind.random, .tpe])
    func aStudyKilledMidStreamResumesWithNoFinishedTrialLostOrRepeated(sampler: SamplerKind) async throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("kill/study.sqlite").path
        let space = try syntheticSpace(layers: 3, choices: 5)
        let objective = SeparableObjective(layers: 3, choices: 5, seed: 4)
        let settings = syntheticSettings(space: space, trials: 50, population: 8, sampler: sampler)

        let dying = StreamingSyntheticEvaluator(objective: objective, failAfter: 21)
        await #expect(throws: StreamingSyntheticEvaluator.Killed.self) {
            _ = try await AlaCarteStudy(space: space, settings: settings, evaluator: dying,
                                        store: try SQLiteStudyStore(path: path)).run()
        }
        let crashed = try SQLiteStudyStore(path: path)
        let finishedBefore = try crashed.trials(states: TrialState.finished)
        // Killed at the first boundary after 21 results: every result handed out by then was committed there.
        let k = finishedBefore.count
        #expect(k == dying.resultsHandedOut && k >= 21 && k < 21 + 8, "each step's trials were committed at its end")
        let proposed = try crashed.nextTrialNumber()
        #expect(try crashed.count(states: [.pending]) == proposed - k, "the rest of the slots went back to the queue")
        #expect(proposed - k >= 1 && proposed - k <= 8)

        let fresh = StreamingSyntheticEvaluator(objective: objective)
        let outcome = try await AlaCarteStudy(space: space, settings: settings, evaluator: fresh,
                                              store: try SQLiteStudyStore(path: path)).run()
        let store = try SQLiteStudyStore(path: path)
        let all = try store.trials()
        #expect(outcome.trialsResumed == k)
        #expect(all.count == 50 && all.allSatisfy { $0.state.isFinished })
        for before in finishedBefore {
            var after = try #require(try store.trial(number: before.number))
            after.testAccuracy = before.testAccuracy
            #expect(after == before)
        }
        #expect(fresh.trained.count == 50 - k && Set(fresh.trained).count == 50 - k)
        let after = all.filter { !finishedBefore.map(\.number).contains($0.number) }
        #expect(after.count == 50 - k)
        #expect(after.filter { $0.number < proposed }.allSatisfy { $0.attempts == 2 },
                "the abandoned claims were retried under their numbers")
        #expect(Set(finishedBefore.map(\.parameters)).isDisjoint(with: Set(after.map(\.parameters))))
        #expect(Set(all.map(\.parameters)).count == 50)
    }

    /// TPE proposing one point per freed slot, with the running ones as constant liars, still finds better
    /// points than random search on a separable objective.
    @Test func streamingTPEStillBeatsRandom() async throws {
        let space = try syntheticSpace(layers: 5, choices: 16)
        var tpeTotal = 0.0, randomTotal = 0.0, tpeWins = 0
        let seeds: [UInt64] = Array(1...8)
        for seed in seeds {
            let objective = SeparableObjective(layers: 5, choices: 16, seed: seed &* 7919)
            func regret(_ sampler: SamplerKind) async throws -> Double {
                var settings = syntheticSettings(space: space, trials: 160, population: 16, sampler: sampler)
                settings.seed = seed
                let outcome = try await AlaCarteStudy(space: space, settings: settings,
                                                      evaluator: StreamingSyntheticEvaluator(objective: objective),
                                                      store: try SQLiteStudyStore(inMemoryNamed: "s\(seed)\(sampler)")).run()
                return objective.optimum - outcome.bestObjective
            }
            let t = try await regret(.tpe), r = try await regret(.random)
            tpeTotal += t
            randomTotal += r
            if t < r { tpeWins += 1 }
        }
        #expect(tpeTotal < 0.7 * randomTotal, "TPE regret \(tpeTotal / 8) vs random \(randomTotal / 8)")
        #expect(tpeWins >= 6, "TPE won on \(tpeWins) of 8 seeds")
    }

    /// On the real trainer (OpenCL, PoCL here): every streamed trial's score is the score the same candidate
    /// gets in a batch, whatever its slot and the trials it shared the pool with; full batch, and mini-batches
    /// (each candidate through its own epoch's shuffle).
    @Test(arguments: [nil, 8] as [Int?])
    func streamedTrialsScoreExactlyAsInABatchOnTheRealTrainer(batchSize: Int?) async throws {
        let menu = try ["relu", "tanh", "prelu(x; a=0.25)", "softmax", "rrelu", "sin"].map {
            MenuChoice(name: $0, expression: try ActivationExpr.parse($0.contains("(") ? $0 : "\($0)(x)"))
        }
        let space = try AlaCarteSpace(menu: menu, layers: 3)
        let setup = TrainingSetup(hiddenWidths: [8, 8], slotCount: 3, epochs: 25, learningRate: 0.01, batchSize: batchSize,
                                  earlyStopPatience: 2, earlyStopMinDelta: 0.01, seed: 5)
        let splits = blobSplits(rows: 40, seed: 3)
        #expect(batchSize.map { $0 < splits.train.rowCount } ?? true)
        let backend = TrainerBackend.openCL(device: try SearchDeviceFixture.device.get(), vocabulary: menu.map(\.expression))
        let settings = AlaCarteSettings(dataset: "blobs", layers: 3, trials: 14, sampler: .random, population: 3, seed: 8,
                                        menuName: "tiny", menuEntries: menu.map(\.name), training: setup)
        let store = try SQLiteStudyStore(inMemoryNamed: "stream")
        let streamed = PopulationEvaluator(backend: backend, setup: setup, splits: splits, store: store)
        #expect(streamed.canStream)
        let outcome = try await AlaCarteStudy(space: space, settings: settings, evaluator: streamed, store: store).run()
        #expect(outcome.pool != nil && outcome.pool!.candidatesTrained + outcome.duplicatesSkipped == 14)
        let trials = try store.trials().filter { $0.duplicateOf == nil }
        let points = trials.map { space.point(parameters: $0.parameters)! }
        let batch = try await PopulationEvaluator(backend: backend, setup: setup, splits: splits)
            .evaluate(points.map(space.candidate))
        #expect(Set(trials.compactMap(\.epochs)).count > 1, "trials stopped at different epochs")
        for (trial, score) in zip(trials, batch.scores) {
            #expect(trial.objective == score.objective, "trial \(trial.number) \(trial.expressions)")
            #expect(trial.epochs == score.epochs, "trial \(trial.number)")
        }
    }
}
