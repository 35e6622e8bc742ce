import Kernels

/// One CNN of a population: an element-wise expression per activation slot (study 2's CNN has three:
/// conv1, conv2, fc1000), optionally its own seed and starting weights.
public struct CNNCandidate: Sendable, Equatable {
    public var activations: [ActivationExpr]
    /// Overrides the seed derived from the run seed and the candidate's index (`Candidate.derivedSeed`).
    /// It alone decides the initial weights and the dropout masks, so a candidate trained in any
    /// population gives the same result as trained alone.
    public var seed: UInt64?
    public var initialWeights: CNNWeights?
    /// Starting values of the learnable activation parameters, per slot in the order `expr.parameters`
    /// lists them; nil: the expressions' own initial values.
    public var initialActivationParameters: [[Float]]?

    public init(activations: [ActivationExpr], seed: UInt64? = nil, initialWeights: CNNWeights? = nil,
                initialActivationParameters: [[Float]]? = nil) {
        self.activations = activations
        self.seed = seed
        self.initialWeights = initialWeights
        self.initialActivationParameters = initialActivationParameters
    }

    /// The starting activation parameters: the given ones, else the expressions' initial values.
    func startingActivationParameters() -> [[Float]] {
        initialActivationParameters ?? activations.map { e in e.isLayerwise ? [] : e.parameters.map { Float($0.initial) } }
    }

    public func effectiveSeed(runSeed: UInt64, index: Int) -> UInt64 {
        seed ?? Candidate.derivedSeed(runSeed: runSeed, index: index)
    }
}

public struct CNNCandidateResult: Sendable, Equatable {
    public var history: [EpochMetrics]
    public var diverged: Bool
    public var stoppedEarly: Bool
    public var finalTrain: SplitMetrics
    public var finalValidation: SplitMetrics?
    public var finalTest: SplitMetrics?
    public var weights: CNNWeights
    /// Final learnable activation parameters per slot, in the order `expr.parameters` lists them (empty
    /// for slots without any).
    public var activationParameters: [[Float]] = []
    public var epochsRun: Int { history.count }
}

public struct CNNTrainingResult: Sendable {
    public var candidates: [CNNCandidateResult]
    public var timing: TrainingTiming
    public var chunks: Int
    /// Images per micro-batch on the device (an optimiser step over a larger batch accumulates gradients).
    public var microBatchImages: Int
    /// Seconds per stage kind, summed over chunks (only with `PopulationCNNTrainer.profileStages`).
    public var stageSeconds: [String: Double] = [:]
    /// How the activations ran (compiled when the interpreter cannot run one of the expressions).
    public var activationExecution: ActivationExecution = .compiled
}

/// The randomness of the CNN trainer's dropout, shared bit for bit with the kernels (`cnn_dropout_keep`).
public enum DropoutMask {
    /// The pass number of micro-batch `micro` of optimiser step `step`: every micro-batch draws fresh
    /// masks (keys also carry the image's row within its micro-batch).
    public static func pass(step: Int, micro: Int) -> UInt32 {
        UInt32(truncatingIfNeeded: step) &* 4096 &+ UInt32(truncatingIfNeeded: micro)
    }

    /// Whether element `index` (PyTorch's flattened c·H·W + y·W + x) of image `row` is kept.
    public static func keep(seed: UInt64, pass: UInt32, layer: Int, row: Int, index: Int, rate: Double) -> Bool {
        let base = NoiseKey.passBase(seed32: NoiseKey.seed32(seed), pass: pass)
        let key = NoiseKey.elementKey(base: base, layer: layer, row: row, column: index)
        let u = Float(CounterRNG.mix32(key ^ 0x2545_F491) >> 8) * 0x1p-24
        return u >= Float(rate)
    }
}
