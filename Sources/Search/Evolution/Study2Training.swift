import Datasets
import Foundation
import GPUEngine
import Kernels

/// Study 2's fully connected network: `inputs→w` (input-stage AF), `hiddenLayers × (w→w)` (hidden-stage AF),
/// `w→w` (output-stage AF), `w→classes` logits. Study 2: w = 32, five hidden layers.
public struct Study2FCN: Sendable, Hashable, Codable {
    public var width: Int
    public var hiddenLayers: Int

    public static let paper = Study2FCN(width: 32, hiddenLayers: 5)

    public init(width: Int, hiddenLayers: Int) {
        self.width = width
        self.hiddenLayers = hiddenLayers
    }

    /// Three slots: 0 input stage, 1 hidden stage (shared by all hidden layers), 2 output stage.
    public func spec(inputs: Int, classes: Int) throws -> MLPSpec {
        let widths = [inputs] + Array(repeating: width, count: hiddenLayers + 2) + [classes]
        let slots = [0] + Array(repeating: 1, count: hiddenLayers) + [2]
        return try MLPSpec(widths: widths, slotOfLayer: slots, lastLayerActivation: false)
    }

    /// The widths as `TrainingSetup.hiddenWidths` lists them (every Linear layer's output but the logits).
    public var hiddenWidths: [Int] { Array(repeating: width, count: hiddenLayers + 2) }
}

/// Trains study 2's network for `PopulationEvaluator` — the FCN on the MLP population trainer, or a CNN on
/// the CNN population trainer: the whole batch as one population on the device, Adam, mini-batches,
/// validation (and test, when asked) after every epoch.
///
/// Every candidate starts from the same initial weights (the setup's seed): networks differ only in their
/// activation functions, so fitness differences come from the functions and a network scores the same
/// wherever it sits in a population (which is what makes reusing a duplicate's score exact). A CNN's
/// dropout masks also derive from that seed alone.
public final class Study2TrainingBackend: PopulationTrainingBackend, @unchecked Sendable {
    public typealias CNNTrainFunction = @Sendable (
        _ candidates: [CNNCandidate], _ architecture: NetworkArchitecture, _ config: TrainingConfig,
        _ train: LabeledData, _ validation: LabeledData?, _ test: LabeledData?
    ) throws -> CNNTrainingResult

    /// The FCN's shape (unused when `architecture` is set).
    public let network: Study2FCN
    /// The CNN this backend trains; nil for the FCN.
    public let architecture: NetworkArchitecture?
    public let deviceDescription: String
    /// One population's training on this backend's network, whichever trainer: each candidate's history and
    /// divergence, and the seconds spent building programs.
    private typealias Engine = @Sendable (_ population: [SlotActivations], _ config: TrainingConfig, _ splits: SearchSplits,
                                          _ test: LabeledData?) throws -> (runs: [(history: [EpochMetrics], diverged: Bool)], compile: Double)
    private let engine: Engine
    private let lock = NSLock()
    private var compileTotal = 0.0

    private init(network: Study2FCN, architecture: NetworkArchitecture?, deviceDescription: String, engine: @escaping Engine) {
        self.network = network
        self.architecture = architecture
        self.deviceDescription = deviceDescription
        self.engine = engine
    }

    public convenience init(network: Study2FCN = .paper, deviceDescription: String, train: @escaping TrainerBackend.TrainFunction) {
        self.init(network: network, architecture: nil, deviceDescription: deviceDescription) { population, config, splits, test in
            let spec = try network.spec(inputs: splits.train.featureCount, classes: splits.train.classCount)
            let candidates = population.map { Candidate(activations: $0, seed: config.seed) }
            return Self.summary(try train(candidates, spec, config, splits.train, splits.validation, test))
        }
    }

    /// A CNN backend: `architecture` has three slots (input, hidden, output stage).
    public convenience init(architecture: NetworkArchitecture, deviceDescription: String, train: @escaping CNNTrainFunction) {
        self.init(network: .paper, architecture: architecture, deviceDescription: deviceDescription) { population, config, splits, test in
            let candidates = population.map { CNNCandidate(activations: $0, seed: config.seed) }
            return Self.summary(try train(candidates, architecture, config, splits.train, splits.validation, test))
        }
    }

    private static func summary<W>(_ run: TrainingRun<W>) -> (runs: [(history: [EpochMetrics], diverged: Bool)], compile: Double) {
        (run.candidates.map { ($0.history, $0.diverged) }, run.timing.compileSeconds)
    }

    private static func summary<W>(_ pooled: (results: [SlotPoolResult<W>], statistics: PoolStatistics))
        -> (runs: [(history: [EpochMetrics], diverged: Bool)], compile: Double) {
        (pooled.results.map { ($0.history, $0.diverged) }, pooled.statistics.compileSeconds)
    }

    /// The OpenCL population trainer. A generation streams through a slot pool (`PopulationTrainer.trainPooled`):
    /// as wide as the generation where memory holds it (one launch per step, as a chunk); where it does not,
    /// a candidate that diverges frees its slot for the next at once. The same bits as `train` gives.
    public convenience init(trainer: PopulationTrainer, network: Study2FCN = .paper) {
        self.init(network: network, architecture: nil, deviceDescription: trainer.device.info.name) { population, config, splits, test in
            let spec = try network.spec(inputs: splits.train.featureCount, classes: splits.train.classCount)
            let candidates = population.map { Candidate(activations: $0, seed: config.seed) }
            return Self.summary(try trainer.trainPooled(candidates: candidates, spec: spec, config: config, train: splits.train,
                                                        validation: splits.validation, test: test))
        }
    }

    /// The OpenCL population CNN trainer; a generation streams through a slot pool (`PopulationCNNTrainer.trainPooled`)
    /// as the FCN's does.
    public convenience init(cnnTrainer: PopulationCNNTrainer, architecture: NetworkArchitecture) {
        self.init(network: .paper, architecture: architecture, deviceDescription: cnnTrainer.device.info.name) { population, config, splits, test in
            let candidates = population.map { CNNCandidate(activations: $0, seed: config.seed) }
            return Self.summary(try cnnTrainer.trainPooled(candidates: candidates, architecture: architecture, config: config,
                                                           train: splits.train, validation: splits.validation, test: test))
        }
    }

    /// The plain Swift Double trainer (exact, slow): tests and machines without OpenCL.
    public static func reference(network: Study2FCN) -> Study2TrainingBackend {
        Study2TrainingBackend(network: network, deviceDescription: "swift reference (cpu, double)") {
            try ReferenceTrainer().train(candidates: $0, spec: $1, config: $2, train: $3, validation: $4, test: $5)
        }
    }

    /// Whether this backend trains the network a recipe asks for.
    public func trains(_ recipe: Study2Recipe) throws -> Bool {
        let cnn = try recipe.cnnArchitecture()
        return cnn == architecture && (cnn != nil || network == recipe.network)
    }

    /// What the backend trains, for messages: the FCN's shape or the CNN's spec.
    public var networkDescription: String {
        architecture.map { "CNN \($0.specString)" } ?? "FCN \(network.width) wide, \(network.hiddenLayers) hidden-stage layers"
    }

    /// Seconds spent generating and building programs so far (the run's compile clock).
    public var compileSeconds: Double { lock.withLock { compileTotal } }

    public func train(population: [SlotActivations], setup: TrainingSetup, splits: SearchSplits, evaluateTest: Bool)
        async throws -> [CandidateTrainingResult]
    {
        let config = TrainingConfig(epochs: setup.epochs, learningRate: setup.learningRate, optimizer: .adam(),
                                    batchSize: setup.batchSize, seed: setup.seed, earlyStopping: nil, evaluateEveryEpoch: true)
        let test = evaluateTest ? splits.test : nil
        let (runs, compile) = try engine(population, config, splits, test)
        lock.withLock { compileTotal += compile }
        return runs.map { run in
            CandidateTrainingResult(
                trainAccuracy: run.history.map(\.train.accuracy),
                validationAccuracy: run.history.compactMap { $0.validation?.accuracy },
                testAccuracy: evaluateTest ? run.history.compactMap { $0.test?.accuracy } : nil,
                diverged: run.diverged)
        }
    }
}
