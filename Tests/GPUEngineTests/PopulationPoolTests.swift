import Foundation
import Testing
import Kernels
import Datasets
@testable import GPUEngine

/// Continuous population training: a candidate's result must not depend on its slot, on when it entered or
/// on its neighbours (the same bits as trained alone), and must follow the Double reference.
@Suite(.serialized) struct PopulationPoolTests {
    static let spec = try! MLPSpec(widths: [6, 16, 12, 3], lastLayerActivation: true)
    /// Learnable parameters (PReLU), noise (RReLU), a layer-wise slot (softmax) and a function that makes
    /// the loss infinite at once.
    static let vocabulary: [ActivationExpr] = [
        .unary(.tanh, .x), .unary(.relu, .x), TrainerFixture.prelu, .unary(.rrelu, .x), .unary(.gelu, .x),
        try! ActivationExpr.parse("exp(exp(exp(exp(x+4))))"),
    ]
    static let diverging = 5

    /// 13 candidates of 3 slots from the vocabulary and softmax, one of them diverging, seeded by tag.
    static func candidates() -> [Candidate] {
        (0..<13).map { i in
            if i == 4 { return Candidate(activations: [.unary(.tanh, .x), vocabulary[diverging], .unary(.relu, .x)]) }
            let pick = { (k: Int) -> ActivationExpr in
                let j = (i * 7 + k * 3) % (vocabulary.count + 1)
                return j == vocabulary.count ? .layerwise(.softmax) : (j == diverging ? .unary(.tanh, .x) : vocabulary[j])
            }
            return Candidate(activations: [pick(0), pick(1), pick(2)])
        }
    }

    static func pooled(slots: Int, order: [Int], config: TrainingConfig, train: LabeledData, validation: LabeledData,
                       test: LabeledData? = nil, spec: MLPSpec = spec,
                       trainer: PopulationTrainer) throws -> (results: [Int: PooledResult], stats: PoolStatistics) {
        let all = candidates()
        let pool = try PopulationPool(trainer: trainer, spec: spec, config: config, train: train, validation: validation,
                                      test: test, slots: slots)
        pool.keepWeights = true
        var queue = order[...]
        var results: [Int: PooledResult] = [:]
        let stats = try pool.run(next: {
            guard let tag = queue.popFirst() else { return nil }
            return PoolEntry(tag: tag, candidate: all[tag])
        }, finished: { results[$0.tag] = $0 })
        return (results, stats)
    }

    /// Equal histories, a NaN loss equal to a NaN loss.
    static func sameBits(_ a: [EpochMetrics], _ b: [EpochMetrics]) -> Bool {
        func bits(_ m: SplitMetrics?) -> [UInt64] { m.map { [$0.loss.bitPattern, $0.accuracy.bitPattern] } ?? [] }
        return a.count == b.count && zip(a, b).allSatisfy {
            $0.epoch == $1.epoch && bits($0.train) == bits($1.train) && bits($0.validation) == bits($1.validation)
                && bits($0.test) == bits($1.test)
        }
    }

    /// Sets `trainer` to run `pass`: per-layer launches under the run's profile (AFSEARCH_PROFILE=gpu: the
    /// staged GEMMs read each candidate's own batch), the fused row passes under the CPU profile (a tile as
    /// wide as 64-unit hidden layers); evaluation in blocks of 8 rows.
    static func launch(_ pass: RowPass, on trainer: PopulationTrainer) {
        if pass != .layers {
            trainer.profile = .cpu
            trainer.tile = TileShape(rows: 4, vectorWidth: 16, vectors: 4)
            trainer.candidatePassMinimum = 1
        }
        trainer.rowPass = pass
        trainer.evaluationBlockRows = 8
    }

    static func trainer() -> PopulationTrainer {
        let t = PopulationTrainer(device: TrainerFixture.device)
        t.vocabulary = vocabulary
        return t
    }

    @Test func everyCandidateGetsItsAloneBitsWhateverItsSlotAndEntryStep() throws {
        let train = TrainerFixture.data(rows: 48, seed: 21), val = TrainerFixture.data(rows: 20, seed: 22)
        let config = TrainingConfig(epochs: 12, learningRate: 0.02, optimizer: .adam(), seed: 9,
                                    earlyStopping: EarlyStopping(patience: 2, minImprovement: 0.02))
        let trainer = Self.trainer()
        let (results, stats) = try Self.pooled(slots: 3, order: Array(0..<13), config: config, train: train,
                                               validation: val, trainer: trainer)
        #expect(results.count == 13)
        #expect(stats.candidatesTrained == 13)
        #expect(stats.candidateEpochs == results.values.reduce(0) { $0 + $1.history.count })
        #expect(stats.slotEpochs >= stats.candidateEpochs && stats.utilisation > 0.5)
        // Full slots until the stream ends, then launches narrowed to exactly the occupied slots.
        #expect(stats.slotEpochs == stats.candidateEpochs)
        #expect(results[4]!.diverged, "the exp(exp(exp(exp))) candidate diverges")
        #expect(results[4]!.history.count < 3, "and frees its slot at once")
        #expect(results.values.contains { $0.stoppedEarly } && results.values.contains { $0.history.count == 12 },
                "candidates leave at different epochs, so later ones enter mid-run")
        for (tag, c) in Self.candidates().enumerated() {
            var alone = c
            alone.seed = Candidate.derivedSeed(runSeed: config.seed, index: tag)
            let r = try trainer.train(candidates: [alone], spec: Self.spec, config: config, train: train, validation: val).candidates[0]
            let p = results[tag]!
            #expect(Self.sameBits(p.history, r.history), "candidate \(tag): history")
            #expect(p.diverged == r.diverged && p.stoppedEarly == r.stoppedEarly, "candidate \(tag): stop reason")
            if !r.diverged {
                #expect(p.weights == r.weights, "candidate \(tag): weights")
                #expect(p.activationParameters == r.activationParameters, "candidate \(tag): learnable parameters")
            }
        }
    }

    @Test func slotCountAndArrivalOrderChangeNothing() throws {
        let train = TrainerFixture.data(rows: 40, seed: 31), val = TrainerFixture.data(rows: 16, seed: 32)
        let config = TrainingConfig(epochs: 8, learningRate: 0.02, optimizer: .adam(), seed: 4,
                                    earlyStopping: EarlyStopping(patience: 2, minImprovement: 0.02))
        let trainer = Self.trainer()
        let a = try Self.pooled(slots: 2, order: Array(0..<13), config: config, train: train, validation: val, trainer: trainer)
        let b = try Self.pooled(slots: 5, order: Array((0..<13).reversed()), config: config, train: train, validation: val, trainer: trainer)
        for tag in 0..<13 {
            #expect(Self.sameBits(a.results[tag]!.history, b.results[tag]!.history), "candidate \(tag)")
            #expect(a.results[tag]!.weights == b.results[tag]!.weights, "candidate \(tag)")
        }
        // Two slots run fuller than five for the same candidates.
        #expect(a.stats.utilisation >= b.stats.utilisation)
    }

    /// With 64-wide hidden layers under the CPU profile the pool's steps and evaluation passes run fused
    /// (`mlp_eval_candidate` / `mlp_eval_rows`, frozen slots skipped): the per-layer launches' bits, with a
    /// validation split three times the row capacity (the training set gathered again after each pass), and
    /// one that fits a block, which `mlp_train_candidate` evaluates at the end of its own step (no test split:
    /// no evaluation launch at all).
    @Test(arguments: [(RowPass.tiles, 53), (.candidates, 53), (.candidates, 20)])
    func fusedEvaluationPassesGiveThePerLayerBits(pass: RowPass, validationRows: Int) throws {
        let spec = try MLPSpec(widths: [6, 64, 64, 3], lastLayerActivation: true)
        let train = TrainerFixture.data(rows: 24, seed: 61), val = TrainerFixture.data(rows: validationRows, seed: 62)
        let inStep = validationRows <= train.rowCount
        let test = inStep ? nil : TrainerFixture.data(rows: 30, seed: 63)
        let config = TrainingConfig(epochs: 6, learningRate: 0.02, optimizer: .adam(), seed: 6,
                                    earlyStopping: EarlyStopping(patience: 2, minImprovement: 0.02))
        func run(_ rowPass: RowPass) throws -> (results: [Int: PooledResult], stats: PoolStatistics) {
            let trainer = Self.trainer()
            trainer.profile = .cpu
            trainer.tile = TileShape(rows: 4, vectorWidth: 16, vectors: 4)
            trainer.rowPass = rowPass
            trainer.candidatePassMinimum = 1
            trainer.evaluationBlockRows = 8
            trainer.profileKernels = true
            return try Self.pooled(slots: 3, order: Array(0..<13), config: config, train: train, validation: val, test: test,
                                   spec: spec, trainer: trainer)
        }
        let fused = try run(pass), plain = try run(.layers)
        #expect(fused.stats.fusedSteps == fused.stats.steps && plain.stats.fusedSteps == 0)
        #expect((fused.stats.kernelSeconds[pass == .candidates ? "mlp_eval_candidate" : "mlp_eval_rows"] == nil) == inStep)
        #expect(fused.stats.kernelSeconds["cross_entropy_loss"] == nil && plain.stats.kernelSeconds["cross_entropy_loss"] != nil)
        #expect(plain.results[4]!.diverged)
        for tag in 0..<13 {
            let f = fused.results[tag]!, p = plain.results[tag]!
            #expect(Self.sameBits(f.history, p.history), "\(pass): candidate \(tag) history")
            #expect(f.history.allSatisfy { $0.validation != nil && ($0.test != nil) == !inStep }, "\(pass): candidate \(tag) evaluated")
            #expect(f.diverged == p.diverged && f.stoppedEarly == p.stoppedEarly, "\(pass): candidate \(tag) stop reason")
            #expect(f.weights == p.weights && f.activationParameters == p.activationParameters, "\(pass): candidate \(tag) weights")
        }
    }

    /// Mini-batches: the pool refills at epoch boundaries and each candidate gathers its batches through the
    /// shuffle of its own epoch, so a candidate entering at the pool's epoch 5 trains on the batches it would
    /// see alone. 40 rows in batches of 16 (a short last batch); per-layer launches on the small network, and
    /// both fused row passes on 64-wide hidden layers (per-candidate input and labels in mlp_fused.cl).
    @Test(arguments: [RowPass.layers, .tiles, .candidates])
    func miniBatchCandidatesGetTheirAloneBitsWhateverTheirEntryEpoch(pass: RowPass) throws {
        let spec = pass == .layers ? Self.spec : try MLPSpec(widths: [6, 64, 64, 3], lastLayerActivation: true)
        let train = TrainerFixture.data(rows: 40, seed: 71), val = TrainerFixture.data(rows: 17, seed: 72)
        let config = TrainingConfig(epochs: 9, learningRate: 0.02, optimizer: .adam(), batchSize: 16, seed: 8,
                                    earlyStopping: EarlyStopping(patience: 2, minImprovement: 0.02))
        let trainer = Self.trainer()
        Self.launch(pass, on: trainer)
        let (results, stats) = try Self.pooled(slots: 3, order: Array(0..<13), config: config, train: train,
                                               validation: val, spec: spec, trainer: trainer)
        #expect(results.count == 13 && stats.candidatesTrained == 13)
        #expect(stats.steps % 3 == 0 && stats.steps > 0, "whole epochs of ceil(40 / 16) = 3 steps")
        #expect(stats.slotEpochs == stats.candidateEpochs, "full slots, then launches narrowed to the occupied ones")
        #expect(pass == .layers ? stats.fusedSteps == 0 : stats.fusedSteps == stats.steps)
        #expect(results[4]!.diverged)
        let entries = Set(results.values.map { $0.history.count })
        #expect(entries.count > 2, "candidates stop at different epochs, so later ones enter at other epochs")
        for (tag, c) in Self.candidates().enumerated() {
            var alone = c
            alone.seed = Candidate.derivedSeed(runSeed: config.seed, index: tag)
            let r = try trainer.train(candidates: [alone], spec: spec, config: config, train: train, validation: val).candidates[0]
            let p = results[tag]!
            #expect(Self.sameBits(p.history, r.history), "\(pass): candidate \(tag) history")
            #expect(p.diverged == r.diverged && p.stoppedEarly == r.stoppedEarly, "\(pass): candidate \(tag) stop reason")
            if !r.diverged {
                #expect(p.weights == r.weights && p.activationParameters == r.activationParameters, "\(pass): candidate \(tag) weights")
            }
        }
    }

    @Test func sgdWithMomentumRestartsItsFirstStepPerSlot() throws {
        let train = TrainerFixture.data(rows: 32, seed: 41)
        let config = TrainingConfig(epochs: 5, learningRate: 0.05, optimizer: .sgd(momentum: 0.9), seed: 2,
                                    earlyStopping: EarlyStopping(patience: 1, minImprovement: 0.05))
        let trainer = Self.trainer()
        let all = Self.candidates()
        let pool = try PopulationPool(trainer: trainer, spec: Self.spec, config: config, train: train, slots: 2)
        pool.keepWeights = true
        var queue = [0, 1, 2, 3, 5, 6][...]
        var results: [Int: PooledResult] = [:]
        try pool.run(next: { queue.popFirst().map { PoolEntry(tag: $0, candidate: all[$0]) } },
                     finished: { results[$0.tag] = $0 })
        for tag in [0, 1, 2, 3, 5, 6] {
            var alone = all[tag]
            alone.seed = Candidate.derivedSeed(runSeed: config.seed, index: tag)
            let r = try trainer.train(candidates: [alone], spec: Self.spec, config: config, train: train).candidates[0]
            #expect(Self.sameBits(results[tag]!.history, r.history) && results[tag]!.weights == r.weights, "candidate \(tag)")
        }
    }

    /// Pooled training against the Double reference: full batch, and mini-batches of 10 of 36 rows (the
    /// reference shuffles each epoch as a candidate alone does; a short last batch).
    @Test(arguments: [nil, 10] as [Int?])
    func pooledTrainingFollowsTheDoubleReference(batchSize: Int?) throws {
        let spec = try MLPSpec(widths: [6, 16, 12, 3], lastLayerActivation: false)
        let train = TrainerFixture.data(rows: batchSize == nil ? 40 : 36, seed: 51)
        let config = TrainingConfig(epochs: batchSize == nil ? 10 : 7, learningRate: 0.01, optimizer: .adam(), batchSize: batchSize,
                                    seed: 3, earlyStopping: EarlyStopping(patience: 3, minImprovement: 0.01))
        let cands = [Candidate(activations: [.unary(.tanh, .x), TrainerFixture.prelu]),
                     Candidate(activations: [.unary(.relu, .x), .unary(.gelu, .x)]),
                     Candidate(activations: [TrainerFixture.prelu, .unary(.tanh, .x)]),
                     Candidate(activations: [.unary(.gelu, .x), .unary(.relu, .x)])]
        let trainer = PopulationTrainer(device: TrainerFixture.device)
        trainer.vocabulary = [.unary(.tanh, .x), .unary(.relu, .x), .unary(.gelu, .x), TrainerFixture.prelu]
        let pool = try PopulationPool(trainer: trainer, spec: spec, config: config, train: train, slots: 2)
        pool.keepWeights = true
        var queue = cands.indices[...]
        var results: [Int: PooledResult] = [:]
        try pool.run(next: { queue.popFirst().map { PoolEntry(tag: $0, candidate: cands[$0]) } },
                     finished: { results[$0.tag] = $0 })
        let ref = try ReferenceTrainer().train(candidates: cands, spec: spec, config: config, train: train)
        for i in cands.indices {
            let p = results[i]!, r = ref.candidates[i]
            #expect(p.history.count == r.history.count, "candidate \(i): epochs")
            for (g, e) in zip(p.history, r.history) { #expect(abs(g.train.loss - e.train.loss) < 1e-4, "candidate \(i) epoch \(g.epoch)") }
            for (gl, rl) in zip(p.weights!.layers, r.weights.layers) {
                #expect(zip(gl.weight, rl.weight).allSatisfy { abs($0 - $1) < 1e-4 }, "candidate \(i) weights")
            }
        }
    }

    @Test func refusesWhatItCannotStream() throws {
        let train = TrainerFixture.data(rows: 32, seed: 41)
        let trainer = Self.trainer()
        #expect(throws: TrainerError.self) {
            _ = try PopulationPool(trainer: trainer, spec: Self.spec, config: TrainingConfig(epochs: 2, learningRate: 0.01), train: train, slots: 0)
        }
        let pool = try PopulationPool(trainer: trainer, spec: Self.spec, config: TrainingConfig(epochs: 2, learningRate: 0.01),
                                      train: train, slots: 2)
        let outside = Candidate(activations: [.unary(.sigmoid, .x), .unary(.tanh, .x), .unary(.tanh, .x)])
        var sent = false
        #expect(throws: TrainerError.self) {
            try pool.run(next: { defer { sent = true }; return sent ? nil : PoolEntry(tag: 0, candidate: outside) },
                         finished: { _ in })
        }
    }
}
