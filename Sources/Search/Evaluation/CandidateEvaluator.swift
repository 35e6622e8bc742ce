import Datasets
import Kernels
import GPUEngine

/// A candidate network's activation functions, one expression per slot (a layer, or a stage of layers).
public typealias SlotActivations = [ActivationExpr]

/// Which accuracy the search maximises.
public enum ObjectiveSplit: String, Codable, Sendable, CaseIterable {
    /// Accuracy on the validation split (default): the test set never selects.
    case validation
    /// Training accuracy, as study 1's public code selects (reproduction only).
    case train
}

/// Which epoch's accuracy scores a candidate.
public enum EpochSelection: String, Codable, Sendable, CaseIterable {
    /// The best accuracy over the epochs run (study 2's fitness; the epoch is chosen on the objective split).
    case best
    /// The accuracy after the last epoch run (study 1).
    case final
}

/// The network and the training recipe shared by every candidate of a search.
public struct TrainingSetup: Codable, Sendable, Hashable {
    /// Widths of the hidden layers; the network has `hiddenWidths.count + 1` Linear layers.
    public var hiddenWidths: [Int]
    /// Activation slots per candidate. Study 1: one per Linear layer, the last included.
    public var slotCount: Int
    public var epochs: Int
    public var learningRate: Double
    /// Rows per step; `nil` for full batch (study 1).
    public var batchSize: Int?
    /// Early stop when training accuracy improves by less than `earlyStopMinDelta` for this many epochs in
    /// a row; `nil` disables it.
    public var earlyStopPatience: Int?
    public var earlyStopMinDelta: Double
    public var seed: UInt64
    public var objective: ObjectiveSplit
    public var selection: EpochSelection

    public init(
        hiddenWidths: [Int], slotCount: Int, epochs: Int = 100, learningRate: Double = 0.001, batchSize: Int? = nil,
        earlyStopPatience: Int? = 10, earlyStopMinDelta: Double = 0.001, seed: UInt64 = 0,
        objective: ObjectiveSplit = .validation, selection: EpochSelection = .final
    ) {
        self.hiddenWidths = hiddenWidths
        self.slotCount = slotCount
        self.epochs = epochs
        self.learningRate = learningRate
        self.batchSize = batchSize
        self.earlyStopPatience = earlyStopPatience
        self.earlyStopMinDelta = earlyStopMinDelta
        self.seed = seed
        self.objective = objective
        self.selection = selection
    }

    /// Study 1's network: L Linear layers of width 64 (in→64, (L−2)×64→64, 64→classes), an activation
    /// after each, the last included.
    public static func study1(layers: Int, epochs: Int = 100, seed: UInt64 = 0,
                              objective: ObjectiveSplit = .validation) -> TrainingSetup {
        TrainingSetup(hiddenWidths: Array(repeating: 64, count: max(layers - 1, 0)), slotCount: layers,
                      epochs: epochs, seed: seed, objective: objective, selection: .final)
    }
}

/// The three parts of a dataset a search sees. `test` is only read to score the finally chosen network.
public struct SearchSplits: Sendable {
    public var train: LabeledData
    public var validation: LabeledData
    public var test: LabeledData

    public init(train: LabeledData, validation: LabeledData, test: LabeledData) {
        self.train = train
        self.validation = validation
        self.test = test
    }
}

/// Where a candidate's score came from.
public enum ScoreSource: String, Codable, Sendable {
    /// Trained in this batch.
    case trained
    /// Same function list as an earlier candidate of the same batch.
    case batchDuplicate
    /// Scored earlier in this process.
    case cache
    /// Scored in an earlier run of the study (found in the study store).
    case store
}

/// The outcome for one candidate.
public struct CandidateScore: Sendable, Equatable, Codable {
    /// What the search maximises (accuracy on the objective split, per `EpochSelection`); 0 if diverged.
    public var objective: Double
    public var validationAccuracy: Double?
    public var trainAccuracy: Double?
    public var diverged: Bool
    public var epochs: Int
    public var source: ScoreSource
    /// `CandidateIdentity.functionKey` of the candidate.
    public var key: String
    /// When reused from the store: the trial that was trained.
    public var storedTrialNumber: Int?

    public init(objective: Double, validationAccuracy: Double?, trainAccuracy: Double?, diverged: Bool,
                epochs: Int, source: ScoreSource, key: String, storedTrialNumber: Int? = nil) {
        self.objective = objective
        self.validationAccuracy = validationAccuracy
        self.trainAccuracy = trainAccuracy
        self.diverged = diverged
        self.epochs = epochs
        self.source = source
        self.key = key
        self.storedTrialNumber = storedTrialNumber
    }
}

/// Scores for one batch, in the order of the candidates given.
public struct EvaluationBatch: Sendable {
    public var scores: [CandidateScore]
    /// Distinct candidates actually trained.
    public var trainedCount: Int
    /// Candidates answered without training (batch duplicates, cache and store hits).
    public var duplicatesSkipped: Int
    /// Wall time spent in the trainer for this batch.
    public var trainSeconds: Double

    public init(scores: [CandidateScore], trainedCount: Int, duplicatesSkipped: Int, trainSeconds: Double) {
        self.scores = scores
        self.trainedCount = trainedCount
        self.duplicatesSkipped = duplicatesSkipped
        self.trainSeconds = trainSeconds
    }
}

/// One slot list of a stream (`StreamingCandidateEvaluator`); `tag` is the caller's name for it (a trial number).
public struct StreamItem: Sendable {
    public var tag: Int
    public var activations: SlotActivations
    public init(tag: Int, activations: SlotActivations) {
        self.tag = tag
        self.activations = activations
    }
}

/// The chosen network's final, held-out score.
public struct TestScore: Sendable, Equatable, Codable {
    public var testAccuracy: Double
    public var validationAccuracy: Double?
    public var trainAccuracy: Double?
    public var diverged: Bool
    public var epochs: Int

    public init(testAccuracy: Double, validationAccuracy: Double?, trainAccuracy: Double?, diverged: Bool, epochs: Int) {
        self.testAccuracy = testAccuracy
        self.validationAccuracy = validationAccuracy
        self.trainAccuracy = trainAccuracy
        self.diverged = diverged
        self.epochs = epochs
    }
}

/// Anything that scores batches of candidates: the population trainer behind `PopulationEvaluator`, or a
/// synthetic objective in tests and sampler benchmarks.
public protocol CandidateEvaluator: Sendable {
    /// Scores every candidate, training each distinct one at most once.
    func evaluate(_ candidates: [SlotActivations]) async throws -> EvaluationBatch
    /// Trains the chosen candidate and scores it once on the test split.
    func scoreOnTest(_ candidate: SlotActivations) async throws -> TestScore
    /// The key under which a candidate's score is stored and deduplicated.
    func key(of candidate: SlotActivations) -> String
    /// Free text naming the device (stored with each trial).
    var deviceDescription: String { get }
}

/// An evaluator that can also score candidates as a stream (continuous population training): the search
/// hands out a candidate whenever a slot frees instead of a batch at a time.
public protocol StreamingCandidateEvaluator: CandidateEvaluator {
    /// Whether `stream` works for this evaluator's setup (else the search proposes batches).
    var canStream: Bool { get }
    /// Scores every item `next` hands out, at most `slots` training at once, until `next` returns nil and
    /// every item is answered; `finished` is called once per item, in the order they finish. `boundary` is
    /// called between training steps, after a step's items were answered, with the number of items `next` is
    /// about to be asked for (0 once it returned nil), and once more before the last refill (`PopulationPool.run`);
    /// an item answered inside `next` is answered after the boundary before it.
    func stream(slots: Int, next: () throws -> StreamItem?,
                finished: (StreamItem, CandidateScore) throws -> Void,
                boundary: (Int) throws -> Void) throws -> PoolStatistics
}
