import Foundation
import Testing
import Kernels
import Datasets
@testable import GPUEngine

/// Shared by the CNN trainer tests: one trainer (programs come from the process-wide program cache, so
/// each distinct population is built once) and small seeded image sets.
enum CNNFixture {
    static let trainer: PopulationCNNTrainer = {
        let t = PopulationCNNTrainer(device: TrainerFixture.device, activationSource: StandInActivationSource.source(for:))
        t.microBatchImages = 8
        return t
    }()
    /// Padding, two channels, pooling, dropout, accumulation over micro-batches: every path at once.
    static let arch = try! NetworkArchitecture(parsing: "conv3x3:4:p1,pool2,conv3x3:6,pool2,flatten,dropout:0.5,fc:12,fc:3")
    static let shape = [2, 8, 8]
    static let smooth: [ActivationExpr] = [.unary(.tanh, .x), .unary(.softplus, .x), .unary(.sigmoid, .x)]

    static func images(rows: Int, shape: [Int] = shape, seed: UInt64) -> LabeledData {
        var d = TrainerFixture.data(rows: rows, features: shape.reduce(1, *), classes: 3, seed: seed)
        d.imageShape = shape
        return d
    }
}

@Suite(.serialized) struct CNNTrainerTests {
    let trainer = CNNFixture.trainer

    @Test func populationOfOneMatchesReferenceFor10AdamSteps() throws {
        let data = CNNFixture.images(rows: 24, seed: 1)
        // 24 rows, batch 12 → 2 steps per epoch, each as micro-batches of 8 + 4 images: 10 steps in 5 epochs.
        let config = TrainingConfig(epochs: 5, learningRate: 0.005, batchSize: 12, seed: 4, evaluateEveryEpoch: false)
        let cand = [CNNCandidate(activations: CNNFixture.smooth)]
        let gpu = try trainer.train(candidates: cand, architecture: CNNFixture.arch, config: config, train: data).candidates[0]
        let ref = try ReferenceCNNTrainer().train(candidates: cand, architecture: CNNFixture.arch, inputShape: CNNFixture.shape,
                                                  config: config, train: data, microBatchImages: 8)[0]
        #expect(gpu.history.count == 5)
        for (g, r) in zip(gpu.history, ref.history) {
            #expect(abs(g.train.loss - r.train.loss) < 1e-4, "epoch \(g.epoch) loss \(g.train.loss) vs \(r.train.loss)")
            #expect(g.train.accuracy == r.train.accuracy)
        }
        var worst: Float = 0
        for (gl, rl) in zip(gpu.weights.layers, ref.weights.layers) {
            #expect(gl.shape == rl.shape)
            worst = max(worst, zip(gl.weight + gl.bias, rl.weight + rl.bias).map { abs($0 - $1) }.max()!)
        }
        #expect(worst < 1e-4, "largest weight difference \(worst)")
        let w0 = try CNNWeights.initial(architecture: CNNFixture.arch, inputShape: CNNFixture.shape,
                                        seed: Candidate.derivedSeed(runSeed: 4, index: 0))
        #expect(gpu.weights != w0, "the weights were trained")

        // Evaluation has no dropout: the device's final loss is the reference's evaluation-mode loss.
        let net = try ReferenceCNN(architecture: CNNFixture.arch, inputShape: CNNFixture.shape, activations: CNNFixture.smooth,
                                   weights: gpu.weights, seed: 0)
        let x = data.features.map(Double.init)
        let evalLoss = ReferenceCNN.lossAndHits(logits: net.forward(x, images: 24, training: false, pass: 0).values.last!,
                                                labels: data.labels, classes: 3).loss / 24
        let trainModeLoss = ReferenceCNN.lossAndHits(logits: net.forward(x, images: 24, training: true, pass: 1).values.last!,
                                                     labels: data.labels, classes: 3).loss / 24
        #expect(abs(gpu.finalTrain.loss - evalLoss) < 1e-4)
        #expect(abs(trainModeLoss - evalLoss) > 1e-3, "dropout changes the training-mode loss")
    }

    @Test func convToConvAndDropoutOnFeatureMapsMatchReference() throws {
        // Three slots and the same expressions as the other tests, so the program is shared (built once).
        let arch = try NetworkArchitecture(parsing: "conv3x2:3,conv2x3:5,dropout:0.3,pool2,flatten,fc:4,fc:3")
        let shape = [1, 7, 8]
        let data = CNNFixture.images(rows: 10, shape: shape, seed: 2)
        let config = TrainingConfig(epochs: 3, learningRate: 0.01, optimizer: .sgd(momentum: 0.9), seed: 6, evaluateEveryEpoch: false)
        let cand = [CNNCandidate(activations: CNNFixture.smooth)]
        let gpu = try trainer.train(candidates: cand, architecture: arch, config: config, train: data).candidates[0]
        let ref = try ReferenceCNNTrainer().train(candidates: cand, architecture: arch, inputShape: shape, config: config,
                                                  train: data, microBatchImages: 8)[0]
        for (g, r) in zip(gpu.history, ref.history) { #expect(abs(g.train.loss - r.train.loss) < 1e-4, "epoch \(g.epoch)") }
        for (gl, rl) in zip(gpu.weights.layers, ref.weights.layers) {
            #expect(zip(gl.weight + gl.bias, rl.weight + rl.bias).allSatisfy { abs($0 - $1) < 1e-4 }, "layer \(gl.index)")
        }
    }

    @Test func wholeTilesMatchReference() throws {
        // 32 channels and 32 features: every tile of every layer is whole (no padded columns or rows), the
        // case of study 2's CNN, where the kernels take their fast paths (Z stored from the registers, the
        // activation as spans, one tap per weight-gradient tile).
        let arch = try NetworkArchitecture(parsing: "conv3x3:32,pool2,conv3x3:32:p1,pool2,flatten,dropout:0.25,fc:32,fc:3")
        let data = CNNFixture.images(rows: 16, seed: 12)
        let config = TrainingConfig(epochs: 5, learningRate: 0.002, batchSize: 8, seed: 3, evaluateEveryEpoch: false)
        let cand = [CNNCandidate(activations: CNNFixture.smooth)]
        let gpu = try trainer.train(candidates: cand, architecture: arch, config: config, train: data).candidates[0]
        let ref = try ReferenceCNNTrainer().train(candidates: cand, architecture: arch, inputShape: CNNFixture.shape, config: config,
                                                  train: data, microBatchImages: 8)[0]
        for (g, r) in zip(gpu.history, ref.history) {
            #expect(abs(g.train.loss - r.train.loss) < 1e-4, "epoch \(g.epoch): \(g.train.loss) vs \(r.train.loss)")
        }
        for (gl, rl) in zip(gpu.weights.layers, ref.weights.layers) {
            let worst = zip(gl.weight + gl.bias, rl.weight + rl.bias).map { abs($0 - $1) }.max()!
            #expect(worst < 1e-4, "layer \(gl.index): largest weight difference \(worst)")
        }
    }

    @Test func mixedPopulationEqualsMembersAloneAndChunks() throws {
        let data = CNNFixture.images(rows: 20, seed: 3), val = CNNFixture.images(rows: 9, seed: 4)
        let config = TrainingConfig(epochs: 2, learningRate: 0.01, batchSize: 10, seed: 5)
        // Each distinct population is one program build (seconds on PoCL): two candidates, the first one
        // sharing its program with the other tests.
        let mixed = [
            CNNCandidate(activations: CNNFixture.smooth),
            CNNCandidate(activations: [.binary(.max, .x, .unary(.tanh, .x)), .unary(.rrelu, .x), .unary(.relu, .x)]),
        ]
        let together = try trainer.train(candidates: mixed, architecture: CNNFixture.arch, config: config, train: data, validation: val)
        #expect(together.chunks == 1)
        for (i, c) in mixed.enumerated() {
            var alone = c
            alone.seed = Candidate.derivedSeed(runSeed: config.seed, index: i)
            let r = try trainer.train(candidates: [alone], architecture: CNNFixture.arch, config: config, train: data, validation: val)
            #expect(r.candidates[0] == together.candidates[i], "candidate \(i)")
        }
        #expect(together.candidates[0].weights != together.candidates[1].weights)
        #expect(together.candidates[1].history[1].validation != nil)

        let small = PopulationCNNTrainer(device: TrainerFixture.device, activationSource: StandInActivationSource.source(for:))
        small.microBatchImages = 8
        small.maxChunkSize = 1
        let chunked = try small.train(candidates: mixed, architecture: CNNFixture.arch, config: config, train: data, validation: val)
        #expect(chunked.chunks == 2)
        #expect(chunked.candidates == together.candidates)
        small.memoryBudgetBytes = 1000
        #expect(throws: TrainerError.self) {
            try small.train(candidates: mixed, architecture: CNNFixture.arch, config: config, train: data)
        }
    }

    @Test func dropoutMasksFollowTheSeed() throws {
        let data = CNNFixture.images(rows: 16, seed: 7)
        let config = TrainingConfig(epochs: 2, learningRate: 0.01, seed: 1, evaluateEveryEpoch: false)
        let w = try CNNWeights.initial(architecture: CNNFixture.arch, inputShape: CNNFixture.shape, seed: 42)
        // Same starting weights; only the candidates' seeds (hence their dropout masks) differ.
        let pop = [CNNCandidate(activations: CNNFixture.smooth, seed: 10, initialWeights: w),
                   CNNCandidate(activations: CNNFixture.smooth, seed: 10, initialWeights: w),
                   CNNCandidate(activations: CNNFixture.smooth, seed: 11, initialWeights: w)]
        let r = try trainer.train(candidates: pop, architecture: CNNFixture.arch, config: config, train: data).candidates
        #expect(r[0] == r[1])
        #expect(r[0].history[0].train.loss != r[2].history[0].train.loss)
        // Without dropout the seed no longer matters once the weights are given.
        let noDrop = try NetworkArchitecture(parsing: "conv3x3:4:p1,pool2,conv3x3:6,pool2,flatten,fc:12,fc:3")
        let w2 = try CNNWeights.initial(architecture: noDrop, inputShape: CNNFixture.shape, seed: 42)
        let same = [10, 11].map { CNNCandidate(activations: CNNFixture.smooth, seed: UInt64($0), initialWeights: w2) }
        let r2 = try trainer.train(candidates: same, architecture: noDrop, config: config, train: data).candidates
        #expect(r2[0] == r2[1])
    }

    @Test func divergingCandidateIsFrozenOthersUnchanged() throws {
        let data = CNNFixture.images(rows: 16, seed: 8)
        let config = TrainingConfig(epochs: 3, learningRate: 0.05, batchSize: 8, seed: 2, evaluateEveryEpoch: false)
        let good = CNNCandidate(activations: CNNFixture.smooth, seed: 77)
        let bad = CNNCandidate(activations: [.unary(.exp, .unary(.exp, .unary(.exp, .x))), .unary(.exp, .unary(.exp, .x)), .unary(.exp, .x)], seed: 78)
        let both = try trainer.train(candidates: [bad, good], architecture: CNNFixture.arch, config: config, train: data).candidates
        let alone = try trainer.train(candidates: [good], architecture: CNNFixture.arch, config: config, train: data).candidates
        #expect(both[0].diverged && !both[1].diverged)
        #expect(both[1] == alone[0])
    }

    @Test func badInputIsAClearError() throws {
        let data = CNNFixture.images(rows: 8, seed: 1)
        let config = TrainingConfig(epochs: 1, learningRate: 0.01)
        #expect(throws: TrainerError.self) {   // two slots for a three-slot architecture
            try trainer.train(candidates: [CNNCandidate(activations: [.x, .x])], architecture: CNNFixture.arch, config: config, train: data)
        }
        #expect(throws: TrainerError.self) {   // no image shape, none given
            var flat = data; flat.imageShape = nil
            try trainer.train(candidates: [CNNCandidate(activations: CNNFixture.smooth)], architecture: CNNFixture.arch, config: config, train: flat)
        }
        #expect(throws: TrainerError.self) {   // weights of another architecture
            let w = try CNNWeights.initial(architecture: CNNFixture.arch, inputShape: CNNFixture.shape, seed: 1)
            let other = try NetworkArchitecture(parsing: "conv3x3:4:p1,pool2,conv3x3:6,pool2,flatten,fc:12,fc:3")
            try trainer.train(candidates: [CNNCandidate(activations: CNNFixture.smooth, initialWeights: w)], architecture: other,
                              config: config, train: data)
        }
        #expect(throws: TrainerError.self) {
            try trainer.train(candidates: [CNNCandidate(activations: [.x, .layerwise(.softmax), .x])], architecture: CNNFixture.arch,
                              config: config, train: data)
        }
    }

    @Test func weightsRoundTripThroughSafetensorsWithTorchNames() throws {
        let w = try CNNWeights.initial(architecture: CNNFixture.arch, inputShape: CNNFixture.shape, seed: 5)
        var file = SafetensorsFile()
        w.store(into: &file, prefix: "candidate.0.")
        #expect(file.tensors["candidate.0.layers.0.weight"]?.shape == [4, 2, 3, 3])
        #expect(file.tensors["candidate.0.layers.6.weight"]?.shape == [12, 6])
        let back = try CNNWeights(from: SafetensorsFile(bytes: file.serialized()), prefix: "candidate.0.",
                                  architecture: CNNFixture.arch, inputShape: CNNFixture.shape)
        #expect(back == w)
        #expect(throws: SafetensorsError.self) {
            try CNNWeights(from: file, prefix: "candidate.0.", architecture: CNNFixture.arch, inputShape: [2, 12, 12])
        }
        // The device layout's pack/unpack is lossless (padded channels and flatten order included).
        let plan = try CNNPlan(architecture: CNNFixture.arch, inputShape: CNNFixture.shape,
                               tile: TileShape(rows: 8, vectorWidth: 16, vectors: 1), capacityImages: 8)
        #expect(plan.unpack(plan.pack(w).params[...]) == w)
    }
}
