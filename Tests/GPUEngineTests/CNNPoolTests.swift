import Foundation
import Testing
import Kernels
import Datasets
@testable import GPUEngine

/// Continuous population training of CNNs (`CNNPool`, the MLP pool's loop over the CNN's launches): a
/// candidate's result must not depend on its slot, on when it entered or on its neighbours.
/// `PopulationCNNTrainer.train` gives every candidate its alone bits in any chunk (`CNNTrainerTests`), so a
/// pooled candidate must have the bits of the population trained as one chunk, and follow the Double reference.
@Suite(.serialized) struct CNNPoolTests {
    /// Input dropout, padding, pooling, feature-map dropout, two Linear slots (layer-wise allowed on both),
    /// micro-batches of 8 (batches of 12 accumulate 8 + 4 images).
    static let arch = try! NetworkArchitecture(parsing: "dropout:0.2,conv3x3:4:p1@0,pool2,conv3x3:6@1,pool2,flatten,dropout:0.3,fc:12@2,fc:8@3,fc:3@3")
    /// Learnable parameters (PReLU, swish β), noise (RReLU), layer-wise functions and a function whose loss
    /// is infinite at once.
    static let menu: [ActivationExpr] = [
        .unary(.tanh, .x), .unary(.softplus, .x), CNNActivationFeatureTests.prelu, .unary(.rrelu, .x),
        CNNActivationFeatureTests.swish, .unary(.sigmoid, .x),
    ]
    static let diverging = try! ActivationExpr.parse("exp(exp(exp(exp(x+4))))")

    /// 10 candidates of 4 slots, candidate 3 diverging, the Linear slots sometimes layer-wise.
    static func candidates(seed: UInt64) -> [CNNCandidate] {
        (0..<10).map { i in
            // The last enters after others left; the Double reference checks it (no RReLU there).
            if i == 9 {
                return CNNCandidate(activations: [CNNActivationFeatureTests.prelu, .unary(.tanh, .x), .layerwise(.softmax),
                                                  CNNActivationFeatureTests.swish], seed: Candidate.derivedSeed(runSeed: seed, index: i))
            }
            let pick = { (k: Int) in menu[(i * 5 + k * 3) % menu.count] }
            let hidden: ActivationExpr = i % 4 == 1 ? .layerwise(.softmax) : (i % 4 == 2 ? .layerwise(.gumbelSoftmax) : pick(2))
            let conv1: ActivationExpr = i == 3 ? diverging : pick(0)
            return CNNCandidate(activations: [conv1, pick(1), hidden, i % 5 == 4 ? .layerwise(.logSoftmax) : pick(3)],
                                seed: Candidate.derivedSeed(runSeed: seed, index: i))
        }
    }

    static func sameBits(_ a: [EpochMetrics], _ b: [EpochMetrics]) -> Bool { PopulationPoolTests.sameBits(a, b) }

    static let train = CNNFixture.images(rows: 24, seed: 71)
    static let validation = CNNFixture.images(rows: 10, seed: 72)

    func expectChunkBits(slots: [Int], trainer: PopulationCNNTrainer = CNNFixture.trainer,
                         candidates: [CNNCandidate], config: TrainingConfig) throws -> [CNNPooledResult] {
        let chunk = try trainer.train(candidates: candidates, architecture: Self.arch, config: config, train: Self.train,
                                      validation: Self.validation).candidates
        var first: [CNNPooledResult] = []
        for width in slots {
            let (pooled, stats) = try trainer.trainPooled(candidates: candidates, architecture: Self.arch, config: config, train: Self.train,
                                                          validation: Self.validation, slots: width, keepWeights: true)
            #expect(stats.slots == width && stats.candidatesTrained == candidates.count)
            #expect(stats.candidateEpochs == pooled.reduce(0) { $0 + $1.history.count })
            #expect(stats.slotEpochs == stats.candidateEpochs, "full slots, then launches narrowed to the occupied ones")
            for (i, (p, c)) in zip(pooled, chunk).enumerated() {
                #expect(Self.sameBits(p.history, c.history), "\(width) slots, candidate \(i): history")
                #expect(p.diverged == c.diverged && p.stoppedEarly == c.stoppedEarly, "\(width) slots, candidate \(i): stop reason")
                if !c.diverged {
                    #expect(p.weights == c.weights, "\(width) slots, candidate \(i): weights")
                    #expect(p.activationParameters == c.activationParameters, "\(width) slots, candidate \(i): learnable parameters")
                }
            }
            if first.isEmpty { first = pooled }
        }
        return first
    }

    /// Mini-batches: candidates leave at different epochs (early stopping, one divergence), so later ones
    /// enter mid-run and gather their own epoch's shuffle beside candidates at other epochs.
    @Test func everyCandidateGetsItsChunkBitsWhateverItsSlotAndEntry() throws {
        let config = TrainingConfig(epochs: 7, learningRate: 0.01, batchSize: 12, seed: 5,
                                    earlyStopping: EarlyStopping(patience: 2, minImprovement: 0.05))
        let candidates = Self.candidates(seed: config.seed)
        let pooled = try expectChunkBits(slots: [3, 4], candidates: candidates, config: config)
        #expect(pooled[3].diverged && pooled[3].history.count < 3, "the exp(exp(exp(exp))) candidate diverges and leaves at once")
        let lengths = Set(pooled.filter { !$0.diverged }.map(\.history.count))
        #expect(lengths.count > 1, "candidates leave at different epochs: \(lengths)")
        #expect(pooled.allSatisfy { $0.history.count <= 7 })

        // Against the Double reference: a candidate that entered after others had left (the last one), for the
        // epochs it trained.
        let last = candidates.count - 1
        let refConfig = TrainingConfig(epochs: pooled[last].history.count, learningRate: config.learningRate,
                                       batchSize: config.batchSize, seed: config.seed, evaluateEveryEpoch: false)
        let ref = try ReferenceCNNTrainer().train(candidates: [candidates[last]], architecture: Self.arch, inputShape: CNNFixture.shape,
                                                  config: refConfig, train: Self.train, microBatchImages: 8)[0]
        #expect(ref.history.count == pooled[last].history.count)
        for (p, r) in zip(pooled[last].history, ref.history) {
            #expect(abs(p.train.loss - r.train.loss) < 1e-4, "epoch \(p.epoch): \(p.train.loss) vs \(r.train.loss)")
        }
        for (pl, rl) in zip(pooled[last].weights!.layers, ref.weights.layers) {
            #expect(zip(pl.weight + pl.bias, rl.weight + rl.bias).allSatisfy { abs($0 - $1) < 1e-4 }, "layer \(pl.index)")
        }
    }

    /// Full batch (one optimiser step of three micro-batches an epoch): slots refill at any epoch, every
    /// candidate reads the shared batch.
    @Test func fullBatchPoolGivesChunkBits() throws {
        let config = TrainingConfig(epochs: 6, learningRate: 0.02, seed: 8,
                                    earlyStopping: EarlyStopping(patience: 2, minImprovement: 0.05))
        _ = try expectChunkBits(slots: [3], candidates: Self.candidates(seed: config.seed), config: config)
    }

    /// Interpreted activations: each entering candidate's tapes are written into its slot's regions.
    @Test func interpretedPoolGivesChunkBits() throws {
        let trainer = CNNInterpreterTests.trainer  // its program (the interpreter's) is built once for every population
        let config = TrainingConfig(epochs: 5, learningRate: 0.01, batchSize: 12, seed: 3,
                                    earlyStopping: EarlyStopping(patience: 2, minImprovement: 0.05))
        // No learnable parameters: the interpreter runs them all.
        let candidates = Self.candidates(seed: config.seed).map { c in
            var c = c
            c.activations = c.activations.map { $0.parameterCount > 0 ? .unary(.tanh, .x) : $0 }
            return c
        }
        #expect(PopulationProgram.interprets(candidates.map(\.activations)))
        _ = try expectChunkBits(slots: [3], trainer: trainer, candidates: candidates, config: config)
    }

    @Test func refusesWhatItCannotStream() throws {
        let config = TrainingConfig(epochs: 2, learningRate: 0.01, batchSize: 12)
        let trainer = CNNFixture.trainer
        // The program of the other tests' populations (built once).
        let vocabulary = PopulationProgram.poolExecution(for: Self.candidates(seed: 0).map(\.activations), execution: .compiled,
                                                         vocabulary: []).vocabulary
        #expect(throws: TrainerError.self) {
            _ = try CNNPool(trainer: trainer, architecture: Self.arch, config: config, train: Self.train, slots: 0, vocabulary: vocabulary)
        }
        let pool = try CNNPool(trainer: trainer, architecture: Self.arch, config: config, train: Self.train, slots: 2, vocabulary: vocabulary)
        func stream(_ activations: [ActivationExpr]) -> String {
            var sent = false
            do {
                try pool.run(next: { defer { sent = true }; return sent ? nil : CNNPoolEntry(tag: 7, candidate: CNNCandidate(activations: activations)) },
                             finished: { _ in })
                return "no error"
            } catch { return "\(error)" }
        }
        let tanh = ActivationExpr.unary(.tanh, .x)
        #expect(stream([tanh, tanh, .unary(.gelu, .x), tanh]).contains("vocabulary"))
        #expect(stream([.layerwise(.softmax), tanh, tanh, tanh]).contains("conv"))
        #expect(stream([tanh, tanh, tanh]).contains("7"), "the candidate's tag names it")
    }
}
