import Foundation
import Kernels
import GPUEngine

/// Per-epoch history of one trained candidate, as the population trainer reports it.
/// Histories may be shorter than the epoch budget (early stop) and are cut at divergence.
public struct CandidateTrainingResult: Sendable, Equatable {
    public var trainAccuracy: [Double]
    public var validationAccuracy: [Double]
    /// Filled only when the caller asked for test evaluation.
    public var testAccuracy: [Double]?
    public var diverged: Bool

    public init(trainAccuracy: [Double], validationAccuracy: [Double], testAccuracy: [Double]? = nil, diverged: Bool) {
        self.trainAccuracy = trainAccuracy
        self.validationAccuracy = validationAccuracy
        self.testAccuracy = testAccuracy
        self.diverged = diverged
    }

    /// The epoch that scores this candidate: the best or the last epoch of the objective split's history.
    /// Ties for `best` go to the earliest epoch.
    public func selectedEpoch(objective: ObjectiveSplit, selection: EpochSelection) -> Int? {
        let history = objective == .validation ? validationAccuracy : trainAccuracy
        guard !history.isEmpty else { return nil }
        switch selection {
        case .final: return history.count - 1
        case .best:
            var best = 0
            for (epoch, value) in history.enumerated() where value > history[best] { best = epoch }
            return best
        }
    }
}

/// What `PopulationEvaluator` needs from a trainer: train many candidates at once, each with one
/// expression per slot, on shared data, and report their histories in order.
public protocol PopulationTrainingBackend: Sendable {
    func train(population: [SlotActivations], setup: TrainingSetup, splits: SearchSplits, evaluateTest: Bool)
        async throws -> [CandidateTrainingResult]
    var deviceDescription: String { get }
    /// Whether `stream` can train this setup (continuous population training).
    func canStream(setup: TrainingSetup, splits: SearchSplits) -> Bool
    /// Trains the slot lists `next` hands out, `slots` at a time, each as soon as a slot frees; `finished` gets
    /// each one's tag and history as it stops.
    func stream(setup: TrainingSetup, splits: SearchSplits, slots: Int,
                next: () throws -> (tag: Int, activations: SlotActivations)?,
                finished: (Int, CandidateTrainingResult) throws -> Void,
                boundary: (Int) throws -> Void) throws -> PoolStatistics
}

extension PopulationTrainingBackend {
    public func canStream(setup: TrainingSetup, splits: SearchSplits) -> Bool { false }
    public func stream(setup: TrainingSetup, splits: SearchSplits, slots: Int,
                       next: () throws -> (tag: Int, activations: SlotActivations)?,
                       finished: (Int, CandidateTrainingResult) throws -> Void,
                       boundary: (Int) throws -> Void) throws -> PoolStatistics {
        throw TrainerError.invalidConfig("this trainer cannot stream candidates")
    }
}

public enum EvaluationError: Error, CustomStringConvertible {
    case wrongSlotCount(candidate: Int, expected: Int, got: Int)
    case backendResultCount(expected: Int, got: Int)

    public var description: String {
        switch self {
        case let .wrongSlotCount(candidate, expected, got):
            return "candidate \(candidate) has \(got) activation(s) but the network has \(expected) slot(s)"
        case let .backendResultCount(expected, got):
            return "trainer returned \(got) result(s) for a population of \(expected)"
        }
    }
}

/// Scores batches of candidates by training the distinct ones as ONE population.
///
/// Dedup order: same key earlier in the batch → in-process cache → study store (trials of earlier runs).
/// Keys come from `CandidateIdentity` (canonical form, then fingerprint). A diverged candidate scores 0.
public actor PopulationEvaluator: StreamingCandidateEvaluator {
    public let setup: TrainingSetup
    public let splits: SearchSplits
    public let identity: CandidateIdentity
    private let backend: any PopulationTrainingBackend
    private let store: (any StudyStore)?
    private var cache: [String: CandidateScore] = [:]
    /// Candidates trained so far by this evaluator (for tests and progress).
    public private(set) var trainedTotal = 0
    public private(set) var duplicatesSkippedTotal = 0

    public init(backend: any PopulationTrainingBackend, setup: TrainingSetup, splits: SearchSplits,
                identity: CandidateIdentity = .structural, store: (any StudyStore)? = nil) {
        self.backend = backend
        self.setup = setup
        self.splits = splits
        self.identity = identity
        self.store = store
    }

    public nonisolated var deviceDescription: String { backend.deviceDescription }

    public nonisolated func key(of candidate: SlotActivations) -> String { identity.functionKey(of: candidate) }

    /// Seeds the cache with scores known from elsewhere (e.g. a resumed study's finished trials).
    public func remember(_ score: CandidateScore) { cache[score.key] = score }

    public func evaluate(_ candidates: [SlotActivations]) async throws -> EvaluationBatch {
        for (index, candidate) in candidates.enumerated() where candidate.count != setup.slotCount {
            throw EvaluationError.wrongSlotCount(candidate: index, expected: setup.slotCount, got: candidate.count)
        }
        var scores = [CandidateScore?](repeating: nil, count: candidates.count)
        var toTrain: [SlotActivations] = []
        var trainKeys: [String] = []
        var firstIndexOfKey: [String: Int] = [:]
        var batchDuplicates: [(index: Int, of: String)] = []

        for (index, candidate) in candidates.enumerated() {
            let key = identity.functionKey(of: candidate)
            if firstIndexOfKey[key] != nil {
                batchDuplicates.append((index, key))
                continue
            }
            firstIndexOfKey[key] = index
            if var known = cache[key] {
                known.source = .cache
                scores[index] = known
            } else if let score = try storedScore(key: key) {
                cache[key] = score
                scores[index] = score
            } else {
                toTrain.append(candidate)
                trainKeys.append(key)
            }
        }

        var seconds = 0.0
        if !toTrain.isEmpty {
            let start = DispatchTime.now().uptimeNanoseconds
            let results = try await backend.train(population: toTrain, setup: setup, splits: splits, evaluateTest: false)
            seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            guard results.count == toTrain.count else {
                throw EvaluationError.backendResultCount(expected: toTrain.count, got: results.count)
            }
            for (key, result) in zip(trainKeys, results) {
                let score = Self.score(result, key: key, setup: setup)
                cache[key] = score
                scores[firstIndexOfKey[key]!] = score
            }
        }
        for (index, key) in batchDuplicates {
            var score = scores[firstIndexOfKey[key]!]!
            score.source = .batchDuplicate
            scores[index] = score
        }
        trainedTotal += toTrain.count
        let skipped = candidates.count - toTrain.count
        duplicatesSkippedTotal += skipped
        return EvaluationBatch(scores: scores.map { $0! }, trainedCount: toTrain.count,
                               duplicatesSkipped: skipped, trainSeconds: seconds)
    }

    /// The score of a finished, trained trial of the study store with this key (an earlier run's), if any.
    nonisolated func storedScore(key: String) throws -> CandidateScore? {
        guard let store, let trial = try store.finishedTrial(canonicalKey: key) else { return nil }
        return CandidateScore(
            objective: trial.objective ?? 0, validationAccuracy: trial.metrics["validation_accuracy"],
            trainAccuracy: trial.metrics["train_accuracy"], diverged: trial.state == .diverged,
            epochs: trial.epochs ?? 0, source: .store, key: key, storedTrialNumber: trial.number)
    }

    public nonisolated var canStream: Bool { backend.canStream(setup: setup, splits: splits) }

    /// Continuous training with the same dedup as `evaluate`: a slot list whose key was scored before (in this
    /// stream, or in the study store) is answered at once with that score; one whose key is training right
    /// now waits for it; only the rest go to the trainer's slots. `finished` is called once per item `next`
    /// handed out, possibly from inside `next` (an answered duplicate).
    public nonisolated func stream(slots: Int, next: () throws -> StreamItem?,
                                   finished: (StreamItem, CandidateScore) throws -> Void,
                                   boundary: (Int) throws -> Void) throws -> PoolStatistics {
        var known: [String: CandidateScore] = [:]
        var waiting: [String: [StreamItem]] = [:]
        var training: [Int: (item: StreamItem, key: String)] = [:]
        func answer(_ item: StreamItem, with score: CandidateScore, source: ScoreSource) throws {
            var copy = score
            copy.source = source
            try finished(item, copy)
        }
        return try backend.stream(setup: setup, splits: splits, slots: slots, next: {
            while let item = try next() {
                guard item.activations.count == setup.slotCount else {
                    throw EvaluationError.wrongSlotCount(candidate: item.tag, expected: setup.slotCount, got: item.activations.count)
                }
                let key = identity.functionKey(of: item.activations)
                if let score = known[key] {
                    try answer(item, with: score, source: .cache)
                } else if waiting[key] != nil {
                    waiting[key]!.append(item)
                } else if let score = try storedScore(key: key) {
                    known[key] = score
                    try finished(item, score)
                } else {
                    waiting[key] = []
                    training[item.tag] = (item, key)
                    return (item.tag, item.activations)
                }
            }
            return nil
        }, finished: { tag, result in
            let (item, key) = training.removeValue(forKey: tag)!
            let score = Self.score(result, key: key, setup: setup)
            known[key] = score
            try finished(item, score)
            var reuse = score
            reuse.storedTrialNumber = tag
            for other in waiting.removeValue(forKey: key) ?? [] { try answer(other, with: reuse, source: .batchDuplicate) }
        }, boundary: boundary)
    }

    public func scoreOnTest(_ candidate: SlotActivations) async throws -> TestScore {
        guard candidate.count == setup.slotCount else {
            throw EvaluationError.wrongSlotCount(candidate: 0, expected: setup.slotCount, got: candidate.count)
        }
        let results = try await backend.train(population: [candidate], setup: setup, splits: splits, evaluateTest: true)
        guard let result = results.first, results.count == 1 else {
            throw EvaluationError.backendResultCount(expected: 1, got: results.count)
        }
        return Self.testScore(result, setup: setup)
    }

    /// Turns a history into the search's score: the objective split's accuracy at the selected epoch,
    /// 0 when the candidate diverged (a NaN network must never look good).
    static func score(_ result: CandidateTrainingResult, key: String, setup: TrainingSetup) -> CandidateScore {
        let epoch = result.selectedEpoch(objective: setup.objective, selection: setup.selection)
        let value = { (history: [Double]) -> Double? in epoch.flatMap { $0 < history.count ? history[$0] : nil } }
        let objectiveValue = setup.objective == .validation ? value(result.validationAccuracy) : value(result.trainAccuracy)
        let usable = !result.diverged && (objectiveValue?.isFinite ?? false)
        return CandidateScore(
            objective: usable ? objectiveValue! : 0, validationAccuracy: value(result.validationAccuracy),
            trainAccuracy: value(result.trainAccuracy), diverged: result.diverged, epochs: result.trainAccuracy.count,
            source: .trained, key: key)
    }

    /// Test accuracy at the epoch the objective split selects (never at the epoch the test split would pick).
    static func testScore(_ result: CandidateTrainingResult, setup: TrainingSetup) -> TestScore {
        let epoch = result.selectedEpoch(objective: setup.objective, selection: setup.selection)
        func at(_ history: [Double]?) -> Double? {
            guard let history, let epoch, epoch < history.count else { return nil }
            return history[epoch]
        }
        let test = at(result.testAccuracy) ?? 0
        return TestScore(testAccuracy: result.diverged || !test.isFinite ? 0 : test,
                         validationAccuracy: at(result.validationAccuracy), trainAccuracy: at(result.trainAccuracy),
                         diverged: result.diverged, epochs: result.trainAccuracy.count)
    }
}
