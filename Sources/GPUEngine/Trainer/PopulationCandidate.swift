import Kernels

/// The weights of one network architecture in PyTorch layout: what a candidate may start from and what its
/// training returns (`LinearStackWeights` for the MLP trainer, `CNNWeights` for the CNN trainer).
public protocol NetworkWeights: Sendable, Equatable {
    /// Adds its tensors to a safetensors file under PyTorch's names, each prefixed with `prefix`.
    func store(into file: inout SafetensorsFile, prefix: String)
    /// Every weight and bias, layer by layer (each layer's weights, then its biases).
    var values: [Float] { get }
}
extension LinearStackWeights: NetworkWeights {
    public var values: [Float] { layers.flatMap { $0.weight + $0.bias } }
}
extension CNNWeights: NetworkWeights {
    public var values: [Float] { layers.flatMap { $0.weight + $0.bias } }
}

/// One network of a population: an expression per activation slot (`.layerwise(op)`, the softmax family, is
/// allowed; identity is `.x`), and optionally its own seed and starting point.
public struct PopulationCandidate<Weights: NetworkWeights>: Sendable, Equatable {
    public var activations: [ActivationExpr]
    /// Overrides the seed derived from the run seed and the candidate's index (`derivedSeed`). It alone
    /// decides the initial weights and the noise (dropout masks, RReLU slopes), so a candidate trained in any
    /// population gives the same result as trained alone.
    public var seed: UInt64?
    /// Start from these weights instead of the seeded PyTorch initialisation.
    public var initialWeights: Weights?
    /// Start values of each slot's learnable parameters (`ActivationExpr.parameter`), in the order the
    /// expression lists them; nil uses each parameter's `initial`.
    public var initialActivationParameters: [[Float]]?

    public init(activations: [ActivationExpr], seed: UInt64? = nil, initialWeights: Weights? = nil,
                initialActivationParameters: [[Float]]? = nil) {
        self.activations = activations
        self.seed = seed
        self.initialWeights = initialWeights
        self.initialActivationParameters = initialActivationParameters
    }

    /// The seed of candidate `index` in a run seeded with `runSeed` (when the candidate carries none).
    public static func derivedSeed(runSeed: UInt64, index: Int) -> UInt64 {
        CounterRNG.mix(runSeed ^ CounterRNG.mix(UInt64(index) &+ 0x632B_E59B_D9B4_E019))
    }

    public func effectiveSeed(runSeed: UInt64, index: Int) -> UInt64 {
        seed ?? Self.derivedSeed(runSeed: runSeed, index: index)
    }

    /// Where candidate `index` of a run seeded `runSeed` starts: its weights (given, else `initialise(seed)`),
    /// its learnable activation parameters (given, else the expressions' initial values) and its noise seed.
    /// Every trainer and the slot pool start candidates through this one function.
    func startingPoint(runSeed: UInt64, index: Int, initialise: (UInt64) throws -> Weights) rethrows
        -> (weights: Weights, activationParameters: [[Float]], seed32: UInt32) {
        let seed = effectiveSeed(runSeed: runSeed, index: index)
        let parameters = initialActivationParameters
            ?? activations.map { e in e.isLayerwise ? [] : e.parameters.map { Float($0.initial) } }
        return (try initialWeights ?? initialise(seed), parameters, NoiseKey.seed32(seed))
    }
}

/// An MLP of a population (`PopulationTrainer`).
public typealias Candidate = PopulationCandidate<LinearStackWeights>
/// A CNN of a population (`PopulationCNNTrainer`): study 2's CNN has three slots (conv1, conv2, fc1000).
public typealias CNNCandidate = PopulationCandidate<CNNWeights>

/// What training made of one candidate.
public struct TrainedCandidate<Weights: NetworkWeights>: Sendable, Equatable {
    /// One entry per epoch the candidate trained (a diverged epoch included, with its non-finite loss).
    public var history: [EpochMetrics]
    /// Its training loss became NaN or ±inf; it was frozen with the weights it had before that step.
    public var diverged: Bool
    public var stoppedEarly: Bool
    public var epochsRun: Int { history.count }
    /// Evaluation mode, final weights. nil when the split was not given.
    public var finalTrain: SplitMetrics
    public var finalValidation: SplitMetrics?
    public var finalTest: SplitMetrics?
    /// Final weights, PyTorch layout (`layers.N.weight` is out×in).
    public var weights: Weights
    /// Final learnable activation parameters per slot, in the order `expr.parameters` lists them (empty for
    /// slots without any).
    public var activationParameters: [[Float]]

    public init(history: [EpochMetrics], diverged: Bool, stoppedEarly: Bool, finalTrain: SplitMetrics,
                finalValidation: SplitMetrics? = nil, finalTest: SplitMetrics? = nil, weights: Weights,
                activationParameters: [[Float]] = []) {
        self.history = history
        self.diverged = diverged
        self.stoppedEarly = stoppedEarly
        self.finalTrain = finalTrain
        self.finalValidation = finalValidation
        self.finalTest = finalTest
        self.weights = weights
        self.activationParameters = activationParameters
    }
}

public typealias CandidateResult = TrainedCandidate<LinearStackWeights>
public typealias CNNCandidateResult = TrainedCandidate<CNNWeights>

/// A population's training: every candidate's result, in the order they were given, and where the time went.
public struct TrainingRun<Weights: NetworkWeights>: Sendable {
    public var candidates: [TrainedCandidate<Weights>]
    public var timing: TrainingTiming
    /// How many chunks the population was split into to fit device memory (1 = all at once).
    public var chunks: Int
    /// How the activations ran (`interpreted` was asked for but compiled is used when the interpreter
    /// cannot run one of the expressions).
    public var activationExecution: ActivationExecution
    /// CNN only: images per micro-batch on the device (an optimiser step over a larger batch accumulates
    /// gradients).
    public var microBatchImages: Int?

    public init(candidates: [TrainedCandidate<Weights>], timing: TrainingTiming, chunks: Int,
                activationExecution: ActivationExecution = .compiled, microBatchImages: Int? = nil) {
        self.candidates = candidates
        self.timing = timing
        self.chunks = chunks
        self.activationExecution = activationExecution
        self.microBatchImages = microBatchImages
    }
}

public typealias PopulationTrainingResult = TrainingRun<LinearStackWeights>
public typealias CNNTrainingResult = TrainingRun<CNNWeights>
