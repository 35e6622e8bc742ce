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

/// Trains study 2's FCN for `PopulationEvaluator`: the whole batch as one population on the device, Adam,
/// mini-batches, validation (and test, when asked) after every epoch.
///
/// Every candidate starts from the same initial weights (the setup's seed): networks differ only in their
/// activation functions, so fitness differences come from the functions and a network scores the same
/// wherever it sits in a population (which is what makes reusing a duplicate's score exact).
public final class Study2TrainingBackend: PopulationTrainingBackend, @unchecked Sendable {
    public let network: Study2FCN
    public let deviceDescription: String
    private let trainFunction: TrainerBackend.TrainFunction
    private let lock = NSLock()
    private var compileTotal = 0.0

    public init(network: Study2FCN = .paper, deviceDescription: String, train: @escaping TrainerBackend.TrainFunction) {
        self.network = network
        self.deviceDescription = deviceDescription
        self.trainFunction = train
    }

    /// The OpenCL population trainer.
    public convenience init(trainer: PopulationTrainer, network: Study2FCN = .paper) {
        self.init(network: network, deviceDescription: trainer.device.info.name) {
            try trainer.train(candidates: $0, spec: $1, config: $2, train: $3, validation: $4, test: $5)
        }
    }

    /// The plain Swift Double trainer (exact, slow): tests and machines without OpenCL.
    public static func reference(network: Study2FCN) -> Study2TrainingBackend {
        Study2TrainingBackend(network: network, deviceDescription: "swift reference (cpu, double)") {
            try ReferenceTrainer().train(candidates: $0, spec: $1, config: $2, train: $3, validation: $4, test: $5)
        }
    }

    /// Seconds spent generating and building programs so far (the run's compile clock).
    public var compileSeconds: Double { lock.withLock { compileTotal } }

    public func train(population: [SlotActivations], setup: TrainingSetup, splits: SearchSplits, evaluateTest: Bool)
        async throws -> [CandidateTrainingResult]
    {
        let spec = try network.spec(inputs: splits.train.featureCount, classes: splits.train.classCount)
        let config = TrainingConfig(epochs: setup.epochs, learningRate: setup.learningRate, optimizer: .adam(),
                                    batchSize: setup.batchSize, seed: setup.seed, earlyStopping: nil, evaluateEveryEpoch: true)
        let candidates = population.map { Candidate(activations: $0, seed: setup.seed) }
        let run = try trainFunction(candidates, spec, config, splits.train, splits.validation, evaluateTest ? splits.test : nil)
        lock.withLock { compileTotal += run.timing.compileSeconds }
        return run.candidates.map { result in
            CandidateTrainingResult(
                trainAccuracy: result.history.map(\.train.accuracy),
                validationAccuracy: result.history.compactMap { $0.validation?.accuracy },
                testAccuracy: evaluateTest ? result.history.compactMap { $0.test?.accuracy } : nil,
                diverged: result.diverged)
        }
    }
}
