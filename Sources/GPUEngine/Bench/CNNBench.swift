import Foundation
import Kernels
import Datasets

/// The CNN benchmark workload (bench/peers/torch_cnn_loop.py and jax_cnn_vmap.py do exactly the same):
/// P candidates of an architecture (default study 2's CNN) on Fashion-MNIST-sized synthetic images
/// (1×28×28, 10 classes), Adam lr 1e-3, mini-batches of `batch` images, `epochs` epochs; candidate i uses
/// `menu[(i + s) % menu.count]` in slot s.
public struct CNNWorkload: Sendable, Codable, Equatable {
    public var population = 8
    public var images = 1024
    public var batch = 128
    public var epochs = 1
    public var architecture = NetworkArchitecture.study2CNN
    public var menu = ["relu(x)", "tanh(x)", "leaky_relu(x)", "elu(x)"]
    public var seed: UInt64 = 1
    public init() {}

    public static let inputShape = [1, 28, 28]

    /// Seeded images: U(−1, 1) pixels, labels from a fixed linear score, so training has something to learn.
    public func data() -> LabeledData {
        let f = Self.inputShape.reduce(1, *)
        var x = [Float](repeating: 0, count: images * f), y = [Int32](repeating: 0, count: images)
        for n in 0..<images {
            var score = [Float](repeating: 0, count: 10)
            for j in 0..<f {
                let v = Float(2 * CounterRNG.uniform(seed: seed, stream: 9, counter: UInt64(n * f + j)) - 1)
                x[n * f + j] = v
                score[(j * 7) % 10] += v
            }
            y[n] = Int32(score.firstIndex(of: score.max()!)!)
        }
        return LabeledData(features: x, labels: y, featureCount: f, classCount: 10, imageShape: Self.inputShape)
    }

    public func candidates(slots: Int) throws -> [CNNCandidate] {
        let exprs = try menu.map { try ActivationExpr.parse($0) }
        return (0..<population).map { i in CNNCandidate(activations: (0..<slots).map { exprs[(i + $0) % exprs.count] }) }
    }

    /// Training FLOPs of one image through one candidate: 2 per multiply-add of the forward pass, times 3
    /// (forward, gradient of the input, gradient of the weights).
    public static func trainingFLOPsPerImage(_ arch: NetworkArchitecture) throws -> Double {
        6 * (try layerMACsPerImage(arch)).reduce(0, +)
    }

    /// Multiply-adds of one image's forward pass through each conv and Linear layer, in order.
    public static func layerMACsPerImage(_ arch: NetworkArchitecture) throws -> [Double] {
        let shapes = try CNNShapes(architecture: arch, inputShape: inputShape)
        var macs: [Double] = []
        for (i, layer) in arch.layers.enumerated() {
            switch layer {
            case .conv(let kh, let kw, let oc, _, _):
                let inC = i == 0 ? inputShape[0] : shapes.outputs[i - 1].c
                macs.append(Double(shapes.outputs[i].h * shapes.outputs[i].w * oc * inC * kh * kw))
            case .linear(let n, _):
                let prev = i == 0 ? (inputShape[0], inputShape[1], inputShape[2]) : shapes.outputs[i - 1]
                macs.append(Double(prev.0 * prev.1 * prev.2 * n))
            default: break
            }
        }
        return macs
    }
}

public struct CNNBenchResult: Sendable, Codable {
    public var workload: CNNWorkload
    public var microBatchImages: Int
    public var chunks: Int
    public var trainSeconds: Double
    public var candidateImagesPerSecond: Double
    public var gflops: Double
    public var finalTrainAccuracyMean: Double
    public var tile: String
    /// Device seconds per kernel of a second, profiled run (`PopulationCNNTrainer.profileKernels`), when requested.
    public var kernelSeconds: [String: Double]?
}

public enum CNNBench {
    /// A warm-up step on one batch builds the program and the device's kernel variants; the timed run is one whole `train` call
    /// (its training time, without the final evaluation).
    public static func run(_ w: CNNWorkload, trainer: PopulationCNNTrainer, profile: Bool = false) throws -> CNNBenchResult {
        let arch = try NetworkArchitecture.named(w.architecture)
        let data = w.data()
        let cands = try w.candidates(slots: arch.slotCount)
        let config = TrainingConfig(epochs: w.epochs, learningRate: 1e-3, optimizer: .adam(), batchSize: w.batch, seed: w.seed,
                                    evaluateEveryEpoch: false)
        var warm = config
        warm.epochs = 1
        // One full batch, so the device compiles its kernels for the timed run's launch shapes here.
        let warmRows = min(w.batch, w.images)
        let few = LabeledData(features: Array(data.features.prefix(warmRows * 784)), labels: Array(data.labels.prefix(warmRows)),
                              featureCount: 784, classCount: 10, imageShape: CNNWorkload.inputShape)
        _ = try trainer.train(candidates: cands, architecture: arch, config: warm, train: few)
        let r = try trainer.train(candidates: cands, architecture: arch, config: config, train: data)
        let work = Double(w.population * w.images * w.epochs)
        let rate = work / r.timing.trainSeconds
        let tile = try trainer.tuning(inputChannels: CNNWorkload.inputShape[0], architecture: arch).tile
        var kernels: [String: Double]?
        if profile {
            trainer.profileKernels = true
            defer { trainer.profileKernels = false }
            kernels = try trainer.train(candidates: cands, architecture: arch, config: config, train: data).timing.kernelSeconds
        }
        return CNNBenchResult(workload: w, microBatchImages: r.microBatchImages ?? w.batch, chunks: r.chunks, trainSeconds: r.timing.trainSeconds,
                              candidateImagesPerSecond: rate, gflops: rate * (try CNNWorkload.trainingFLOPsPerImage(arch)) / 1e9,
                              finalTrainAccuracyMean: r.candidates.map(\.finalTrain.accuracy).reduce(0, +) / Double(w.population),
                              tile: "\(tile.rows)x\(tile.vectorWidth)x\(tile.vectors)", kernelSeconds: kernels)
    }
}

extension CNNBenchResult {
    /// One line for `afsearch bench train --arch …`.
    public var textLine: String {
        let stages = (kernelSeconds ?? [:]).sorted { $0.value > $1.value }
            .map { "\n  " + $0.key.padding(toLength: 28, withPad: " ", startingAt: 0) + String(format: " %7.2f s", $0.value) }.joined()
        return "CNN \(workload.architecture): P=\(workload.population) images=\(workload.images) batch=\(workload.batch) "
            + "epochs=\(workload.epochs) micro-batch=\(microBatchImages) chunks=\(chunks)  "
            + String(format: "%.1f candidate-images/s  %.2f GFLOP/s  (%.1f s, ", candidateImagesPerSecond, gflops, trainSeconds)
            + "tile \(tile))" + stages
    }

    public func json() throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return String(decoding: try e.encode(self), as: UTF8.self)
    }
}
