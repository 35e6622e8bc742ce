import Foundation
import Kernels
import Datasets

/// The plain Swift trainer in Double: the same loop as `PopulationTrainer` (initialisation, shuffle,
/// per-batch loss, optimiser, early stopping, divergence freeze, evaluation), written as obviously as
/// possible, one candidate after another. It is the reference the OpenCL trainer is tested against.
///
/// Differences by design: everything is Double; RReLU uses its mean slope in training too (the device draws
/// a slope per element); Gumbel noise is drawn bit-identically to the device.
public struct ReferenceTrainer: Sendable {
    public init() {}

    public func train(candidates: [Candidate], spec: MLPSpec, config: TrainingConfig, train: LabeledData,
                      validation: LabeledData? = nil, test: LabeledData? = nil) throws -> PopulationTrainingResult {
        try TrainingInputCheck.validate(candidates: candidates, spec: spec, config: config,
                                        splits: [("training", train), ("validation", validation), ("test", test)])
        let clock = ContinuousClock.now
        let results = try candidates.enumerated().map { index, candidate in
            try trainOne(candidate, index: index, spec: spec, config: config, train: train, validation: validation, test: test)
        }
        var timing = TrainingTiming()
        timing.trainSeconds = Double((ContinuousClock.now - clock).components.attoseconds) * 1e-18
            + Double((ContinuousClock.now - clock).components.seconds)
        return PopulationTrainingResult(candidates: results, timing: timing, chunks: 1)
    }

    func makeNetwork(_ candidate: Candidate, index: Int, spec: MLPSpec, config: TrainingConfig) throws -> ReferenceMLP {
        let seed = candidate.effectiveSeed(runSeed: config.seed, index: index)
        let weights = candidate.initialWeights ?? LinearInit.weights(widths: spec.widths, seed: seed)
        return try ReferenceMLP(spec: spec, activations: candidate.activations, weights: weights,
                                parameters: candidate.initialActivationParameters?.map { $0.map(Double.init) }, seed: seed)
    }

    func trainOne(_ candidate: Candidate, index: Int, spec: MLPSpec, config: TrainingConfig, train: LabeledData,
                  validation: LabeledData?, test: LabeledData?) throws -> CandidateResult {
        var net = try makeNetwork(candidate, index: index, spec: spec, config: config)
        var optimizer = ReferenceOptimizer(config: config, parameterCount: Self.flatten(net).count)
        let n = train.rowCount, d = train.featureCount
        let batch = min(config.batchSize ?? n, n)
        var stopper = config.earlyStopping.map(EarlyStoppingTracker.init)
        var history: [EpochMetrics] = []
        var diverged = false, stoppedEarly = false
        var step: UInt32 = 0
        for epoch in 0..<config.epochs {
            let order = batch < n ? EpochShuffle.order(rows: n, seed: config.seed, epoch: epoch) : (0..<n).map { Int32($0) }
            var lossSum = 0.0, correct = 0
            for start in stride(from: 0, to: n, by: batch) {
                let rows = order[start..<min(start + batch, n)].map(Int.init)
                let x = rows.flatMap { r in train.features[(r * d)..<((r + 1) * d)].map(Double.init) }
                let labels = rows.map { train.labels[$0] }
                let out = net.lossAndGradients(x, labels: labels, rows: rows.count, pass: step)
                lossSum += out.loss * Double(rows.count)
                correct += out.correct
                step &+= 1
                // A non-finite batch loss freezes the candidate before its update; like the device, the
                // rest of the epoch is then skipped (its metrics only cover the batches up to here).
                guard out.loss.isFinite else { diverged = true; break }
                var flat = Self.flatten(net)
                optimizer.step(&flat, gradient: Self.flatten(out.gradients))
                Self.unflatten(flat, into: &net)
            }
            var metrics = EpochMetrics(epoch: epoch, train: SplitMetrics(loss: lossSum / Double(n), accuracy: Double(correct) / Double(n)))
            if config.evaluateEveryEpoch {
                metrics.validation = validation.map { evaluate(net, on: $0) }
                metrics.test = test.map { evaluate(net, on: $0) }
            }
            history.append(metrics)
            if diverged { break }
            if stopper?.record(trainAccuracy: metrics.train.accuracy) == true { stoppedEarly = true; break }
        }
        let layers = (0..<spec.layerCount).map { l in
            LinearStackWeights.Layer(inputs: spec.widths[l], outputs: spec.widths[l + 1],
                                     weight: net.weights[l].map(Float.init), bias: net.biases[l].map(Float.init))
        }
        return CandidateResult(history: history, diverged: diverged, stoppedEarly: stoppedEarly,
                               finalTrain: evaluate(net, on: train), finalValidation: validation.map { evaluate(net, on: $0) },
                               finalTest: test.map { evaluate(net, on: $0) }, weights: LinearStackWeights(layers: layers),
                               activationParameters: net.parameters.map { $0.map(Float.init) })
    }

    /// Mean loss and accuracy in evaluation mode.
    func evaluate(_ net: ReferenceMLP, on data: LabeledData) -> SplitMetrics {
        let x = data.features.map(Double.init)
        let fw = net.forward(x, rows: data.rowCount, pass: NoiseKey.evaluationPass)
        let ce = ReferenceMLP.crossEntropy(logits: fw.a[net.spec.layerCount], labels: data.labels, rows: data.rowCount,
                                           classes: net.spec.classCount, lossRows: data.rowCount)
        return SplitMetrics(loss: ce.lossSum / Double(data.rowCount), accuracy: Double(ce.correct) / Double(data.rowCount))
    }

    /// Weights, biases layer by layer, then the activation parameters slot by slot.
    static func flatten(_ net: ReferenceMLP) -> [Double] {
        zip(net.weights, net.biases).flatMap { $0 + $1 } + net.parameters.flatMap { $0 }
    }

    static func flatten(_ g: ReferenceMLP.Gradients) -> [Double] {
        zip(g.weights, g.biases).flatMap { $0 + $1 } + g.parameters.flatMap { $0 }
    }

    static func unflatten(_ flat: [Double], into net: inout ReferenceMLP) {
        var k = 0
        func take(_ count: Int) -> [Double] { defer { k += count }; return Array(flat[k..<(k + count)]) }
        for l in net.weights.indices {
            net.weights[l] = take(net.weights[l].count)
            net.biases[l] = take(net.biases[l].count)
        }
        for s in net.parameters.indices { net.parameters[s] = take(net.parameters[s].count) }
    }
}

/// PyTorch's Adam and SGD-with-momentum update rules over one flat parameter vector.
struct ReferenceOptimizer {
    let config: TrainingConfig
    var first: [Double]
    var second: [Double]
    var steps = 0

    init(config: TrainingConfig, parameterCount: Int) {
        self.config = config
        first = [Double](repeating: 0, count: parameterCount)
        second = first
    }

    mutating func step(_ p: inout [Double], gradient g: [Double]) {
        steps += 1
        let lr = config.learningRate
        switch config.optimizer {
        case .adam(let b1, let b2, let eps):
            let c1 = 1 - pow(b1, Double(steps)), c2 = 1 - pow(b2, Double(steps))
            for i in p.indices {
                first[i] = b1 * first[i] + (1 - b1) * g[i]
                second[i] = b2 * second[i] + (1 - b2) * g[i] * g[i]
                p[i] -= (lr / c1) * first[i] / (second[i].squareRoot() / c2.squareRoot() + eps)
            }
        case .sgd(let momentum):
            for i in p.indices {
                if momentum == 0 {
                    p[i] -= lr * g[i]
                } else {
                    first[i] = steps == 1 ? g[i] : momentum * first[i] + g[i]
                    p[i] -= lr * first[i]
                }
            }
        }
    }
}
