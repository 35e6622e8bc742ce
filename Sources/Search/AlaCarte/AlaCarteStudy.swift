import Foundation
import GPUEngine

/// One progress report, after each finished round.
public struct AlaCarteProgress: Sendable {
    public var trialsDone: Int
    public var trialsTarget: Int
    public var bestObjective: Double?
    /// Trials per second in this process (resumed trials excluded).
    public var trialsPerSecond: Double
    public var etaSeconds: Double?
    public var duplicatesSkipped: Int
}

/// The result of a finished study.
public struct AlaCarteOutcome: Sendable, Codable {
    public var study: String
    public var bestTrialNumber: Int
    public var bestChoices: [String]
    public var bestExpressions: [String]
    public var bestObjective: Double
    public var test: TestScore
    public var trialsFinished: Int
    /// Finished trials found in the store at start (a resumed study).
    public var trialsResumed: Int
    public var duplicatesSkipped: Int
    public var divergedCount: Int
    public var wallSeconds: Double
    /// Time inside the sampler's `propose`.
    public var samplerSeconds: Double
    /// Time writing trials to the store.
    public var storeSeconds: Double
    /// Time inside the evaluator (training).
    public var evaluateSeconds: Double
    /// How full the trainer's slots were, when the study streamed its trials (continuous training).
    public var pool: PoolStatistics?

    /// The sampler's share of this process's wall time.
    public var samplerOverhead: Double { wallSeconds > 0 ? samplerSeconds / wallSeconds : 0 }
}

/// Runs an à la carte study until the trial budget is spent, then scores the best trial once on the test
/// split. Two ways to spend the budget:
/// - streaming (an evaluator that `canStream`: the OpenCL trainer, full batch): the trainer keeps
///   `population` slots busy; whenever one frees, the sampler proposes one point (TPE sees the running
///   trials as constant liars with the worst value), the trial is committed as `running`,
///   and its score is committed the moment it stops;
/// - rounds (any other evaluator): propose `population` points, commit them as `running`, train them as one
///   population, commit the scores, repeat.
///
/// Crash safety: `running` rows of an interrupted run are dropped on the next start and proposed afresh;
/// every finished trial stays, is fed back to the sampler, and its point is never proposed again.
public final class AlaCarteStudy: @unchecked Sendable {
    public let space: AlaCarteSpace
    public let settings: AlaCarteSettings
    private let sampler: any AlaCarteSampler
    private let evaluator: any CandidateEvaluator
    private let store: any StudyStore

    public init(space: AlaCarteSpace, settings: AlaCarteSettings, evaluator: any CandidateEvaluator,
                store: any StudyStore, sampler: (any AlaCarteSampler)? = nil) throws {
        try settings.validate()
        guard space.layers == settings.layers, space.menu.map(\.name) == settings.menuEntries else {
            throw AlaCarteError.invalidSettings("the search space does not match the settings' menu and layers")
        }
        self.space = space
        self.settings = settings
        self.evaluator = evaluator
        self.store = store
        self.sampler = sampler ?? settings.sampler.make()
    }

    /// Checks the store against the settings: a fresh store gets them; a used one must hold the same study.
    public func prepareStore() throws {
        if let stored = try store.settings(as: AlaCarteSettings.self) {
            if let conflict = stored.conflicts(with: settings).first {
                throw StudyStoreError.settingsMismatch(
                    study: store.studyName, key: conflict.key, stored: conflict.stored, requested: conflict.requested)
            }
            if stored.trials != settings.trials { try store.writeSettings(settings, kind: "alacarte") }
        } else {
            if let kind = try store.kind(), kind != "alacarte" {
                throw AlaCarteError.storeMismatch("study '\(store.studyName)' is a \(kind) study, not an alacarte one")
            }
            try store.writeSettings(settings, kind: "alacarte")
        }
    }

    public func run(progress: (@Sendable (AlaCarteProgress) -> Void)? = nil) async throws -> AlaCarteOutcome {
        let clock = Stopwatch()
        try prepareStore()
        try store.discardUnfinished()

        var observations: [Observation] = []
        var seen = Set<[Int]>()
        var numberOfKey: [String: Int] = [:]
        var divergedCount = 0
        for trial in try store.trials(states: TrialState.finished, group: nil) {
            guard let point = space.point(parameters: trial.parameters) else {
                throw AlaCarteError.storeMismatch(
                    "study '\(store.studyName)' trial \(trial.number) has parameters \(trial.parameters) outside this menu")
            }
            observations.append(Observation(number: trial.number, point: point, objective: trial.objective ?? 0))
            seen.insert(point)
            if let key = trial.canonicalKey, trial.duplicateOf == nil, numberOfKey[key] == nil { numberOfKey[key] = trial.number }
            if trial.state == .diverged { divergedCount += 1 }
        }
        let resumed = observations.count
        var generator = SeededGenerator(seed: SeededGenerator.derive(settings.seed, UInt64(try store.nextTrialNumber())))
        var samplerSeconds = 0.0, storeSeconds = 0.0, evaluateSeconds = 0.0
        var duplicatesSkipped = 0
        var round = try store.trials(states: nil, group: nil).count / max(settings.population, 1)
        var poolStatistics: PoolStatistics?
        func report() {
            guard let progress else { return }
            let done = observations.count - resumed
            let rate = Double(done) / max(clock.seconds, 1e-9)
            let left = settings.trials - observations.count
            progress(AlaCarteProgress(
                trialsDone: observations.count, trialsTarget: settings.trials,
                bestObjective: observations.map(\.objective).max(), trialsPerSecond: rate,
                etaSeconds: rate > 0 ? Double(left) / rate : nil, duplicatesSkipped: duplicatesSkipped))
        }

        if let streaming = evaluator as? any StreamingCandidateEvaluator, streaming.canStream,
           observations.count < settings.trials {
            var running: [Int: (record: TrialRecord, point: [Int], started: Stopwatch)] = [:]
            var lastReport = Stopwatch()
            let evaluateStart = Stopwatch()
            poolStatistics = try streaming.stream(slots: settings.population, next: {
                guard observations.count + running.count < settings.trials else { return nil }
                let samplerStart = Stopwatch()
                let points = sampler.propose(count: 1, observations: observations,
                                             running: running.keys.sorted().map { running[$0]!.point },
                                             excluded: seen, space: space, generator: &generator)
                samplerSeconds += samplerStart.seconds
                guard let point = points.first else { return nil }  // the space is exhausted
                let storeStart = Stopwatch()
                let candidate = space.candidate(point)
                let record = TrialRecord(
                    number: try store.nextTrialNumber(), group: "stream", state: .running,
                    parameters: space.parameters(point), expressions: candidate.map(\.description),
                    canonicalKey: evaluator.key(of: candidate), seed: settings.training.seed,
                    device: evaluator.deviceDescription, startedAt: Date())
                try store.insert([record])
                storeSeconds += storeStart.seconds
                seen.insert(point)
                running[record.number] = (record, point, Stopwatch())
                return StreamItem(tag: record.number, activations: candidate)
            }, finished: { item, score in
                guard let entry = running.removeValue(forKey: item.tag) else { return }
                var record = entry.record
                Self.fill(&record, with: score, numberOfKey: &numberOfKey, finishedAt: Date(),
                          // Its share of the pool while it was in: the wall time over the slots.
                          trainSeconds: entry.started.seconds / Double(max(settings.population, 1)))
                if score.source != .trained { duplicatesSkipped += 1 }
                if score.diverged { divergedCount += 1 }
                let storeStart = Stopwatch()
                try store.update([record])
                storeSeconds += storeStart.seconds
                observations.append(Observation(number: record.number, point: entry.point, objective: score.objective))
                if lastReport.seconds >= 1 || observations.count >= settings.trials {
                    report()
                    lastReport = Stopwatch()
                }
            })
            evaluateSeconds += evaluateStart.seconds - samplerSeconds - storeSeconds
        }

        while observations.count < settings.trials {
            let wanted = min(settings.population, settings.trials - observations.count)
            let samplerStart = Stopwatch()
            let points = sampler.propose(count: wanted, observations: observations, excluded: seen, space: space,
                                         generator: &generator)
            samplerSeconds += samplerStart.seconds
            if points.isEmpty { break }  // the space is exhausted

            let storeStart = Stopwatch()
            let firstNumber = try store.nextTrialNumber()
            let now = Date()
            var records = points.enumerated().map { offset, point in
                TrialRecord(
                    number: firstNumber + offset, group: "round-\(round)", state: .running,
                    parameters: space.parameters(point),
                    expressions: space.candidate(point).map(\.description),
                    canonicalKey: evaluator.key(of: space.candidate(point)), seed: settings.training.seed,
                    device: evaluator.deviceDescription, startedAt: now)
            }
            try store.insert(records)
            storeSeconds += storeStart.seconds

            let evaluateStart = Stopwatch()
            let batch = try await evaluator.evaluate(points.map(space.candidate))
            evaluateSeconds += evaluateStart.seconds
            duplicatesSkipped += batch.duplicatesSkipped

            let finished = Date()
            let perTrained = batch.trainedCount > 0 ? batch.trainSeconds / Double(batch.trainedCount) : 0
            for index in records.indices {
                let score = batch.scores[index]
                Self.fill(&records[index], with: score, numberOfKey: &numberOfKey, finishedAt: finished, trainSeconds: perTrained)
                if score.diverged { divergedCount += 1 }
                observations.append(Observation(number: records[index].number, point: points[index], objective: score.objective))
                seen.insert(points[index])
            }
            let commitStart = Stopwatch()
            try store.update(records)
            storeSeconds += commitStart.seconds
            round += 1
            report()
        }

        guard var best = try store.bestTrials(limit: 1).first, let bestPoint = space.point(parameters: best.parameters)
        else {
            throw AlaCarteError.storeMismatch("study '\(store.studyName)' finished no trial")
        }
        let test: TestScore
        if let stored = best.testAccuracy {
            // Scored in an earlier run: the test set is read once per study.
            test = TestScore(testAccuracy: stored, validationAccuracy: best.metrics["validation_accuracy"],
                             trainAccuracy: best.metrics["train_accuracy"], diverged: best.state == .diverged,
                             epochs: best.epochs ?? 0)
        } else {
            let evaluateStart = Stopwatch()
            test = try await evaluator.scoreOnTest(space.candidate(bestPoint))
            evaluateSeconds += evaluateStart.seconds
            best.testAccuracy = test.testAccuracy
            try store.update([best])
        }
        return AlaCarteOutcome(
            study: store.studyName, bestTrialNumber: best.number, bestChoices: space.names(bestPoint),
            bestExpressions: best.expressions, bestObjective: best.objective ?? 0, test: test,
            trialsFinished: observations.count, trialsResumed: resumed, duplicatesSkipped: duplicatesSkipped,
            divergedCount: divergedCount, wallSeconds: clock.seconds, samplerSeconds: samplerSeconds,
            storeSeconds: storeSeconds, evaluateSeconds: evaluateSeconds, pool: poolStatistics)
    }

    /// A finished trial's row from its score: state, objective, metrics; a duplicate names the trial it reuses.
    static func fill(_ record: inout TrialRecord, with score: CandidateScore, numberOfKey: inout [String: Int],
                     finishedAt: Date, trainSeconds: Double) {
        record.state = score.diverged ? .diverged : .complete
        record.objective = score.objective
        record.metrics = [:]
        if let v = score.validationAccuracy { record.metrics["validation_accuracy"] = v }
        if let t = score.trainAccuracy { record.metrics["train_accuracy"] = t }
        record.epochs = score.epochs
        record.finishedAt = finishedAt
        if score.source == .trained {
            record.trainSeconds = trainSeconds
            numberOfKey[score.key] = record.number
        } else {
            record.trainSeconds = 0
            record.duplicateOf = score.storedTrialNumber ?? numberOfKey[score.key]
        }
    }
}

/// Monotonic elapsed time.
struct Stopwatch {
    private let start = DispatchTime.now().uptimeNanoseconds
    var seconds: Double { Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
}
