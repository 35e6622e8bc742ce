import Datasets
import Foundation
import Kernels

/// Study 1's throughput workload (issue 4), the same one bench/peers/torch_loop.py and jax_vmap.py run:
/// P candidates of L Linear layers (features→hidden→…→hidden→classes), full-batch Adam on n synthetic
/// samples, candidate i using activation i mod 8 of `activationCycle` in every hidden layer, logits straight
/// into cross-entropy, no early stopping (every candidate does every epoch).
public struct Study1Workload: Sendable, Equatable {
    public var population = 64
    public var layers = 5
    public var samples = 1000
    public var features = 20
    public var classes = 10
    public var hidden = 64
    public var epochs = 50
    public var learningRate = 1e-3
    public var seed: UInt64 = 0
    /// Candidate i uses `cycle[i % count]`; study 1's eight by default. A shorter cycle measures what the
    /// number of distinct activations in one program costs.
    public var cycle: [UnaryOp] = Study1Workload.activationCycle

    public init() {}

    public static let activationNames = ["relu", "tanh", "sigmoid", "elu", "silu", "gelu", "softplus", "mish"]
    public static let activationCycle: [UnaryOp] = [.relu, .tanh, .sigmoid, .elu, .silu, .gelu, .softplus, .mish]

    public var widths: [Int] { [features] + Array(repeating: hidden, count: max(0, layers - 1)) + [classes] }

    public func spec() throws -> MLPSpec { try MLPSpec(widths: widths, lastLayerActivation: false) }

    /// Weights and biases of one network: the W of the 6·n·W FLOP count.
    public var weightsPerCandidate: Int {
        zip(widths.dropLast(), widths.dropFirst()).reduce(0) { $0 + $1.0 * $1.1 + $1.1 }
    }

    /// Forward 2·n·W, backward (data and weight gradients) 4·n·W; element-wise work and the optimiser are
    /// not counted, as in the peers.
    public var flopsPerCandidateEpoch: Double { 6 * Double(samples) * Double(weightsPerCandidate) }

    public func candidates() -> [Candidate] {
        let slots = max(0, layers - 1)
        return (0..<population).map { i in
            Candidate(activations: Array(repeating: .unary(cycle[i % cycle.count], .x), count: slots))
        }
    }

    public var config: TrainingConfig {
        TrainingConfig(epochs: epochs, learningRate: learningRate, optimizer: .adam(), batchSize: nil, seed: seed,
                       earlyStopping: nil, evaluateEveryEpoch: false)
    }

    /// Gaussian features (Box–Muller on the counter RNG) and labels from a random linear teacher plus
    /// noise: learnable but not separable, like the peers' data (each side draws its own numbers).
    public func syntheticData() -> LabeledData {
        func gaussian(_ stream: UInt64, _ i: Int) -> Double {
            let u1 = CounterRNG.uniform(seed: seed, stream: stream, counter: UInt64(2 * i))
            let u2 = CounterRNG.uniform(seed: seed, stream: stream, counter: UInt64(2 * i + 1))
            return (-2 * log(1 - u1)).squareRoot() * cos(2 * Double.pi * u2)
        }
        let x = (0..<(samples * features)).map { Float(gaussian(100, $0)) }
        let teacher = (0..<(features * classes)).map { gaussian(101, $0) }
        var labels = [Int32](repeating: 0, count: samples)
        for r in 0..<samples {
            var best = -Double.infinity
            for c in 0..<classes {
                var s = 0.5 * gaussian(102, r * classes + c)
                for j in 0..<features { s += Double(x[r * features + j]) * teacher[j * classes + c] }
                if s > best { best = s; labels[r] = Int32(c) }
            }
        }
        return LabeledData(features: x, labels: labels, featureCount: features, classCount: classes)
    }
}

/// One timed run of the workload on the population trainer.
public struct TrainingBenchResult: Sendable, Codable {
    public var population: Int
    public var layers: Int
    public var samples: Int
    public var epochs: Int
    public var weightsPerCandidate: Int
    /// Wall time of the timed `train` call (program already built by the warm-up).
    public var seconds: Double
    /// The trainer's own split of that time.
    public var trainSeconds: Double
    public var evaluateSeconds: Double
    public var candidateEpochsPerSecond: Double
    public var gflops: Double
    public var meanFinalTrainAccuracy: Double
    public var divergedCandidates: Int
    public var chunks: Int
    public var tile: String
    /// Device seconds per kernel name over the timed run (training and the final evaluation), when profiled.
    /// Profiling waits on every launch's event, so `seconds` of a profiled run is slightly longer.
    public var kernelSeconds: [String: Double]?
}

public enum TrainingBench {
    /// Trains the workload once for `warmupEpochs` (program build, allocations), then times a full run.
    /// `profile`: read every launch's device time into `kernelSeconds` during the timed run.
    public static func run(_ workload: Study1Workload, trainer: PopulationTrainer, data: LabeledData? = nil,
                           warmupEpochs: Int = 2, profile: Bool = false) throws -> TrainingBenchResult {
        let data = data ?? workload.syntheticData()
        let spec = try workload.spec()
        let candidates = workload.candidates()
        // The MLP trainer's tile (four-vector tiles allowed), pinned for both runs so the report names
        // the tile that was measured.
        let tile = try trainer.tuning(widths: spec.widths).tile
        let chosen = trainer.tile
        trainer.tile = tile
        defer { trainer.tile = chosen }
        var warm = workload.config
        warm.epochs = max(1, min(warmupEpochs, workload.epochs))
        _ = try trainer.train(candidates: candidates, spec: spec, config: warm, train: data)

        let profiled = trainer.profileKernels
        trainer.profileKernels = profile
        defer { trainer.profileKernels = profiled }
        let start = DispatchTime.now().uptimeNanoseconds
        let result = try trainer.train(candidates: candidates, spec: spec, config: workload.config, train: data)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let candidateEpochs = Double(workload.population * workload.epochs)
        return TrainingBenchResult(
            population: workload.population, layers: workload.layers, samples: workload.samples, epochs: workload.epochs,
            weightsPerCandidate: workload.weightsPerCandidate, seconds: seconds,
            trainSeconds: result.timing.trainSeconds, evaluateSeconds: result.timing.evaluateSeconds,
            candidateEpochsPerSecond: candidateEpochs / seconds,
            gflops: workload.flopsPerCandidateEpoch * candidateEpochs / seconds / 1e9,
            meanFinalTrainAccuracy: result.candidates.map(\.finalTrain.accuracy).reduce(0, +) / Double(max(1, result.candidates.count)),
            divergedCandidates: result.candidates.filter(\.diverged).count,
            chunks: result.chunks,
            tile: "\(tile.rows)×\(tile.columns) (float\(tile.vectorWidth)×\(tile.vectors))",
            kernelSeconds: profile ? result.timing.kernelSeconds : nil)
    }
}
