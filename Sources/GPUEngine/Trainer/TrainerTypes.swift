// The population MLP trainer's public vocabulary, shared by the OpenCL trainer (`PopulationTrainer`)
// and the plain Swift Double reference (`ReferenceTrainer`).
//
//     let spec = try MLPSpec(widths: [20, 64, 64, 10], lastLayerActivation: true)   // a slot per layer
//     let config = TrainingConfig(epochs: 300, learningRate: 0.001, optimizer: .adam(),
//                                 earlyStopping: .study1, seed: 7)
//     let candidates = [Candidate(activations: [.unary(.relu, .x), .unary(.tanh, .x), .layerwise(.softmax)])]
//     let run = try PopulationTrainer(device: device).train(candidates: candidates, spec: spec, config: config,
//                                                           train: trainSplit, validation: nil, test: testSplit)
//     run.candidates[0].history.last?.trainAccuracy
//
// Randomness: each candidate has a 64-bit seed (its own, or derived from `config.seed` and its index by
// `Candidate.derivedSeed`). Its initial weights, and the random draws of RReLU / Gumbel-softmax in its
// layers, depend only on that seed, so a candidate trained inside any population gives the same result as
// the same candidate (same seed) trained alone. The mini-batch shuffle is shared and derives from
// `config.seed` only.
import Foundation
import Kernels

/// The architecture every candidate of a population shares: Linear layers `widths[0]→widths[1]→…→widths[L]`,
/// each followed by the activation of its slot; the last layer's output (the logits) goes into softmax
/// cross-entropy. Without `lastLayerActivation` the logits are the last Linear layer's output as is.
public struct MLPSpec: Sendable, Equatable, Hashable {
    /// Input features, hidden widths…, classes.
    public let widths: [Int]
    /// For each activated layer (all hidden layers, plus the last one when `lastLayerActivation`), the slot
    /// whose expression it uses. Slots are numbered `0..<slotCount`; several layers may share one slot
    /// (study 2's input/hidden/output stages), and then share its learnable parameters too.
    public let slotOfLayer: [Int]
    public let lastLayerActivation: Bool

    public var layerCount: Int { widths.count - 1 }
    public var slotCount: Int { (slotOfLayer.max() ?? -1) + 1 }
    public var inputCount: Int { widths[0] }
    public var classCount: Int { widths[widths.count - 1] }
    /// Weights and biases of one network.
    public var weightCount: Int { (0..<layerCount).reduce(0) { $0 + widths[$1] * widths[$1 + 1] + widths[$1 + 1] } }
    /// The slot of Linear layer `layer`, or nil when its output is not activated (the last layer without
    /// `lastLayerActivation`).
    public func slot(ofLayer layer: Int) -> Int? { layer < slotOfLayer.count ? slotOfLayer[layer] : nil }

    public init(widths: [Int], slotOfLayer: [Int], lastLayerActivation: Bool) throws {
        guard widths.count >= 2 else {
            throw TrainerError.invalidSpec("widths must list at least the input and the class count, got \(widths)")
        }
        guard widths.allSatisfy({ $0 >= 1 }) else {
            throw TrainerError.invalidSpec("every width must be at least 1, got \(widths)")
        }
        guard widths.last! >= 2 else {
            throw TrainerError.invalidSpec("a classifier needs at least 2 classes, got widths \(widths)")
        }
        let activated = widths.count - 1 - (lastLayerActivation ? 0 : 1)
        guard slotOfLayer.count == activated else {
            throw TrainerError.invalidSpec(
                "slotOfLayer needs one slot per activated layer (\(activated) for \(widths.count - 1) layers, "
                + "lastLayerActivation \(lastLayerActivation)), got \(slotOfLayer.count)")
        }
        if let bad = slotOfLayer.first(where: { $0 < 0 }) {
            throw TrainerError.invalidSpec("slot numbers must be ≥ 0, got \(bad)")
        }
        let used = Set(slotOfLayer)
        if let gap = (0..<used.count).first(where: { !used.contains($0) }) {
            throw TrainerError.invalidSpec("slots must be numbered 0..<n without gaps; slot \(gap) is unused in \(slotOfLayer)")
        }
        self.widths = widths
        self.slotOfLayer = slotOfLayer
        self.lastLayerActivation = lastLayerActivation
    }

    /// One slot per activated layer, in layer order (study 1).
    public init(widths: [Int], lastLayerActivation: Bool) throws {
        let activated = max(0, widths.count - 1 - (lastLayerActivation ? 0 : 1))
        try self.init(widths: widths, slotOfLayer: Array(0..<activated), lastLayerActivation: lastLayerActivation)
    }
}

/// How a training step's row work is launched under the CPU profile (`DeviceProfile`), and with it an evaluation
/// pass's (compiled activations). Every choice gives the same bits.
public enum RowPass: String, Sendable, CaseIterable {
    /// One work-item per candidate (kernels/mlp_fused.cl, `mlp_train_candidate`): its rows in blocks, each
    /// block's forward, loss and data gradients and then its share of the weight gradients, while the block is
    /// in cache. Needs as many candidates as the device has compute units; smaller populations run `tiles`.
    /// Evaluation: `mlp_eval_candidate`, the forward and the loss of its rows and their sums in one launch.
    case candidates
    /// One work-item per row tile of a candidate (`mlp_train_rows`): forward, loss and data gradients of every
    /// layer in one launch, then a weight-gradient launch per layer. Evaluation: `mlp_eval_rows`, then the sums.
    case tiles
    /// A launch per layer and stage (forward, loss, data and weight gradients), as on GPUs.
    case layers
}

public enum Optimizer: Sendable, Equatable, Hashable {
    /// `torch.optim.Adam` without weight decay or amsgrad:
    /// m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², p ← p − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + ε).
    case adam(beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8)
    /// `torch.optim.SGD(momentum:)` with dampening 0, not Nesterov: b ← g on the first step, then
    /// b ← μ·b + g; p ← p − lr·b. Momentum 0 is plain SGD.
    case sgd(momentum: Double = 0)

    /// The two per-candidate floats the update kernels read (`step_args` in kernels/adam_update.cl) for a
    /// candidate at its own optimiser step `step` (from 0): Adam's step size lr / (1 − β1ᵗ) and √(1 − β2ᵗ),
    /// computed in Double as torch does; SGD's learning rate and whether this is its first step.
    func stepArguments(learningRate: Double, step: Int) -> (Float, Float) {
        let t = Double(step + 1)
        switch self {
        case .adam(let b1, let b2, _):
            return (Float(learningRate / (1 - pow(b1, t))), Float((1 - pow(b2, t)).squareRoot()))
        case .sgd:
            return (Float(learningRate), step == 0 ? 1 : 0)
        }
    }
}

/// Study 1's rule, per candidate: stop once training accuracy has improved by less than `minImprovement`
/// over the previous epoch for `patience` epochs in a row. A stopped candidate is frozen: it no longer
/// updates and its history ends there.
public struct EarlyStopping: Sendable, Equatable, Hashable {
    public var patience: Int
    public var minImprovement: Double
    public init(patience: Int, minImprovement: Double) {
        self.patience = patience
        self.minImprovement = minImprovement
    }
    public static let study1 = EarlyStopping(patience: 10, minImprovement: 0.001)
}

public struct TrainingConfig: Sendable, Equatable, Hashable {
    public var epochs: Int
    public var learningRate: Double
    public var optimizer: Optimizer
    /// Rows per step; nil (or ≥ the training rows) is full batch: one step per epoch. Mini-batches follow a
    /// fresh shuffle per epoch, shared by the population; the last batch of an epoch may be smaller
    /// (PyTorch's `DataLoader` with `drop_last=False`).
    public var batchSize: Int?
    public var seed: UInt64
    public var earlyStopping: EarlyStopping?
    /// Evaluate the validation and test splits (when given) after every epoch, for the history; otherwise
    /// only once after training.
    public var evaluateEveryEpoch: Bool

    public init(epochs: Int, learningRate: Double, optimizer: Optimizer = .adam(), batchSize: Int? = nil,
                seed: UInt64 = 0, earlyStopping: EarlyStopping? = nil, evaluateEveryEpoch: Bool = true) {
        self.epochs = epochs
        self.learningRate = learningRate
        self.optimizer = optimizer
        self.batchSize = batchSize
        self.seed = seed
        self.earlyStopping = earlyStopping
        self.evaluateEveryEpoch = evaluateEveryEpoch
    }
}

/// Loss (mean cross-entropy) and accuracy of one candidate on one split.
public struct SplitMetrics: Sendable, Equatable, Hashable {
    public var loss: Double
    public var accuracy: Double
    public init(loss: Double, accuracy: Double) {
        self.loss = loss
        self.accuracy = accuracy
    }
}

/// One epoch of one candidate. `train` is measured during the epoch's training pass (training mode, the
/// weights before each step — what a PyTorch loop accumulates); `validation` / `test` after the epoch's
/// updates, in evaluation mode, when they were requested.
public struct EpochMetrics: Sendable, Equatable, Hashable {
    public var epoch: Int
    public var train: SplitMetrics
    public var validation: SplitMetrics?
    public var test: SplitMetrics?
    public init(epoch: Int, train: SplitMetrics, validation: SplitMetrics? = nil, test: SplitMetrics? = nil) {
        self.epoch = epoch
        self.train = train
        self.validation = validation
        self.test = test
    }
}

public struct TrainingTiming: Sendable, Equatable {
    /// Generating and building the program (zero when it came from the program cache).
    public var compileSeconds: Double = 0
    /// Uploads, initialisation, the training steps and the per-epoch training metrics.
    public var trainSeconds: Double = 0
    /// Validation/test evaluation and the final evaluation pass.
    public var evaluateSeconds: Double = 0
    /// Device seconds per kernel (profiling counters), filled only with `PopulationTrainer.profileKernels`.
    public var kernelSeconds: [String: Double] = [:]
    public init() {}
}

/// Progress after each epoch, for a progress line.
public struct EpochProgress: Sendable {
    public var epoch: Int
    public var epochs: Int
    /// Candidates still training (neither stopped early nor diverged).
    public var activeCandidates: Int
    public var bestTrainAccuracy: Double
    /// This epoch's metrics of each candidate of the chunk being trained (nil for one frozen before it), so a
    /// caller can print rows as epochs finish.
    public var metrics: [EpochMetrics?] = []
}

public enum TrainerError: Error, CustomStringConvertible, Equatable {
    case invalidSpec(String)
    case invalidCandidate(index: Int, problem: String)
    case invalidData(split: String, problem: String)
    case invalidConfig(String)
    case doesNotFit(String)

    public var description: String {
        switch self {
        case .invalidSpec(let s): return "invalid MLP spec: \(s)"
        case .invalidCandidate(let i, let p): return "candidate \(i): \(p)"
        case .invalidData(let split, let p): return "\(split) data: \(p)"
        case .invalidConfig(let s): return "invalid training config: \(s)"
        case .doesNotFit(let s): return "population does not fit the device: \(s)"
        }
    }
}
