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
    /// This process as a worker of the study (`WorkerIdentity.id`).
    public var worker: String = ""
    /// Trials this worker trained (the others came from other workers, earlier runs, or were duplicates).
    public var trialsTrainedHere: Int = 0
    /// Stale claims (of any worker) that this worker put back in the queue.
    public var claimsRequeued: Int = 0
    /// Claims this worker lost because they went stale while it trained (their results were not written).
    public var claimsLost: Int = 0

    /// The sampler's share of this process's wall time.
    public var samplerOverhead: Double { wallSeconds > 0 ? samplerSeconds / wallSeconds : 0 }
}

/// Runs an à la carte study until the trial budget is spent, then scores the best trial once on the test
/// split. Two ways to spend the budget:
/// - streaming (an evaluator that `canStream`: the OpenCL trainer with the menu): the trainer keeps
///   `population` slots busy; whenever one frees, the sampler proposes one point (TPE sees the running
///   trials as constant liars with the worst value), the trial is committed as `running`,
///   and its score is committed the moment it stops;
/// - rounds (any other evaluator): propose `population` points, commit them as `running`, train them as one
///   population, commit the scores, repeat.
///
/// Workers: the same study run by several processes (devices, machines) on one store. Each trial is a claim
/// of one worker (`StudyStore.claimNew`/`claimPending`); `settings.trials` is the study's total, which the
/// workers together finish exactly; every proposal sees every finished trial of every worker, and the
/// running ones of all workers as constant liars. A worker beats its heartbeat on a thread of its own; the
/// claims of a worker that stops beating for `ClaimPolicy.staleAfterSeconds` (or whose process on this machine
/// is gone) are requeued and retried under their numbers, up to `maxAttempts`, then marked failed.
///
/// Crash safety: every finished trial stays, is fed back to the sampler, and its point is never proposed
/// again; the claims of a killed run are retried (AlaCarteStudy+Run.swift).
public final class AlaCarteStudy: @unchecked Sendable {
    public let space: AlaCarteSpace
    public private(set) var settings: AlaCarteSettings
    /// The settings' `population` was chosen for this process's device (`PoolWidthCache`), not asked for: a
    /// study that the store already holds keeps the pool width it was started with (a resumed study, a worker
    /// that joins one) instead of refusing the difference. TPE's proposals depend on it: the constant liar
    /// sees as many running trials as there are slots.
    public var adoptsStoredPopulation = false
    let sampler: any AlaCarteSampler
    let evaluator: any CandidateEvaluator
    let store: any StudyStore

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
            if adoptsStoredPopulation { settings.population = stored.population }
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
