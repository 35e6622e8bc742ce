import Foundation
import Kernels
import Datasets

/// The plain Swift (Double) CNN trainer, candidate by candidate: the same batches, micro-batches,
/// dropout masks, initialisation and Adam/SGD rule as `PopulationCNNTrainer`, without any of its layout
/// tricks. Training metrics per epoch only (what the comparison tests need).
public struct ReferenceCNNTrainer {
    public init() {}

    public struct Result: Sendable {
        public var history: [EpochMetrics]
        public var weights: CNNWeights
        /// Final learnable activation parameters per slot.
        public var activationParameters: [[Float]]
    }

    public func train(candidates: [CNNCandidate], architecture: NetworkArchitecture, inputShape: [Int],
                      config: TrainingConfig, train: LabeledData, microBatchImages: Int) throws -> [Result] {
        try candidates.enumerated().map { i, c in
            let seed = c.effectiveSeed(runSeed: config.seed, index: i)
            let w0 = try c.initialWeights ?? CNNWeights.initial(architecture: architecture, inputShape: inputShape, seed: seed)
            var net = try ReferenceCNN(architecture: architecture, inputShape: inputShape, activations: c.activations, weights: w0, seed: seed,
                                       parameters: c.initialActivationParameters?.map { $0.map(Double.init) })
            return trainOne(&net, weights: w0, config: config, train: train, micro: microBatchImages)
        }
    }

    private func trainOne(_ net: inout ReferenceCNN, weights w0: CNNWeights, config: TrainingConfig, train: LabeledData, micro: Int) -> Result {
        let n = train.rowCount, f = train.featureCount
        let batch = min(config.batchSize ?? n, n)
        let cap = min(batch, max(1, micro))
        let sizes = (net.weights + net.biases + net.parameters).map(\.count)
        var optimizer = ReferenceOptimizer(config: config, parameterCount: sizes.reduce(0, +))
        var history: [EpochMetrics] = []
        var step = 0
        for epoch in 0..<config.epochs {
            let order = batch < n ? EpochShuffle.order(rows: n, seed: config.seed, epoch: epoch).map(Int.init) : Array(0..<n)
            var lossSum = 0.0, hits = 0.0
            for start in stride(from: 0, to: n, by: batch) {
                let rows = min(batch, n - start)
                var grads: [[Double]]? = nil
                for (mi, ms) in stride(from: 0, to: rows, by: cap).enumerated() {
                    let images = min(cap, rows - ms)
                    let idx = order[(start + ms)..<(start + ms + images)]
                    let x = idx.flatMap { r in train.features[(r * f)..<((r + 1) * f)].map(Double.init) }
                    let labels = idx.map { train.labels[$0] }
                    let pass = DropoutMask.pass(step: step, micro: mi)
                    let tape = net.forward(x, images: images, training: true, pass: pass)
                    let lh = ReferenceCNN.lossAndHits(logits: tape.values.last!, labels: labels, classes: net.architecture.classCount)
                    lossSum += lh.loss
                    hits += lh.hits
                    let gr = net.backward(tape, labels: labels, images: images, lossScale: 1 / Double(rows), pass: pass)
                    let flat = gr.weights + gr.biases + gr.parameters
                    grads = grads.map { zip($0, flat).map { zip($0, $1).map(+) } } ?? flat
                }
                // PyTorch's update rules (ReferenceOptimizer, as the MLP reference) over one flat vector.
                var params = (net.weights + net.biases + net.parameters).flatMap { $0 }
                optimizer.step(&params, gradient: grads!.flatMap { $0 })
                var offset = 0
                let split = sizes.map { count -> [Double] in
                    defer { offset += count }
                    return Array(params[offset..<(offset + count)])
                }
                let L = net.weights.count
                net.weights = Array(split[0..<L])
                net.biases = Array(split[L..<(2 * L)])
                net.parameters = Array(split[(2 * L)...])
                step += 1
            }
            history.append(EpochMetrics(epoch: epoch, train: SplitMetrics(loss: lossSum / Double(n), accuracy: hits / Double(n))))
        }
        let weights = CNNWeights(layers: zip(w0.layers, zip(net.weights, net.biases)).map { l, wb in
            CNNWeights.Layer(index: l.index, shape: l.shape, weight: wb.0.map(Float.init), bias: wb.1.map(Float.init))
        })
        return Result(history: history, weights: weights, activationParameters: net.parameters.map { $0.map(Float.init) })
    }
}
