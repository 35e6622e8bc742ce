import Foundation
import Testing
import Kernels
import Datasets
@testable import GPUEngine

/// The GEMM register tile changes speed only: every GEMM output is accumulated in the same order whatever
/// the tile, so the same population trains to the same bits with 8×32, 4×64 (four vectors, whose tiles
/// cover whole rows of a 64-wide layer and run the activation as one contiguous span), 8×16 and 4×8 tiles, and
/// matches the Double reference. The one exception is a learnable activation parameter: its gradient is a
/// sum of per-tile partial sums, so its rounding (and through it the candidate's weights) depends on the tile.
@Suite(.serialized) struct TrainerTileTests {
    static let tiles = [TileShape(rows: 8, vectorWidth: 16, vectors: 2), TileShape(rows: 4, vectorWidth: 16, vectors: 4),
                        TileShape(rows: 8, vectorWidth: 16, vectors: 1),
                        // 8 columns: Adam's scalar path (float16 blocks need 16-float layer boundaries).
                        TileShape(rows: 4, vectorWidth: 8, vectors: 1)]

    /// 64-wide hidden layers (whole-row tiles with four vectors), a 20-wide input and 3 activated logits
    /// (edge tiles), 37 rows (a partial row tile), study 1's eight functions and a learnable PReLU slope
    /// (parameter partials summed over a contiguous span).
    static let spec = try! MLPSpec(widths: [20, 64, 64, 3], lastLayerActivation: true)
    static let candidates: [Candidate] = [
        Candidate(activations: [.unary(.relu, .x), .unary(.mish, .x), .unary(.gelu, .x)]),
        Candidate(activations: [.unary(.sigmoid, .x), .unary(.silu, .x), .unary(.tanh, .x)]),
        Candidate(activations: [.unary(.elu, .x), .unary(.softplus, .x), .x]),
        Candidate(activations: [TrainerFixture.prelu, .unary(.mish, .x), .layerwise(.logSoftmax)]),
    ]
    static let config = TrainingConfig(epochs: 6, learningRate: 0.01, optimizer: .adam(), seed: 5, evaluateEveryEpoch: false)

    static func train(tile: TileShape) throws -> PopulationTrainingResult {
        let trainer = PopulationTrainer(device: TrainerFixture.device)
        trainer.tile = tile
        return try trainer.train(candidates: candidates, spec: spec, config: config,
                                 train: TrainerFixture.data(rows: 37, features: 20, seed: 8))
    }

    @Test func everyTileGivesTheSameBitsAndTheReference() throws {
        let runs = try Self.tiles.map { try Self.train(tile: $0) }
        for (t, run) in runs.enumerated().dropFirst() {
            for (i, (a, b)) in zip(run.candidates, runs[0].candidates).enumerated() {
                let learnable = Self.candidates[i].activations.contains { $0.parameterCount > 0 }
                for (la, lb) in zip(a.weights.layers, b.weights.layers) {
                    if learnable {
                        #expect(zip(la.weight, lb.weight).allSatisfy { abs($0 - $1) < 1e-5 }, "tile \(Self.tiles[t]) candidate \(i) weights")
                    } else {
                        #expect(la.weight == lb.weight && la.bias == lb.bias, "tile \(Self.tiles[t]) candidate \(i) weights")
                        #expect(a.history.map(\.train.loss) == b.history.map(\.train.loss), "tile \(Self.tiles[t]) candidate \(i) losses")
                    }
                }
                #expect(zip(a.activationParameters.joined(), b.activationParameters.joined()).allSatisfy { abs($0 - $1) < 1e-5 },
                        "tile \(Self.tiles[t]) candidate \(i) PReLU slope")
            }
        }
        let ref = try ReferenceTrainer().train(candidates: Self.candidates, spec: Self.spec, config: Self.config,
                                               train: TrainerFixture.data(rows: 37, features: 20, seed: 8))
        for (i, (g, r)) in zip(runs[1].candidates, ref.candidates).enumerated() {
            #expect(!g.diverged && g.history.count == Self.config.epochs)
            for (ge, re) in zip(g.history, r.history) {
                #expect(abs(ge.train.loss - re.train.loss) < 1e-4, "candidate \(i) epoch \(ge.epoch)")
            }
            for (gl, rl) in zip(g.weights.layers, r.weights.layers) {
                #expect(zip(gl.weight, rl.weight).allSatisfy { abs($0 - $1) < 1e-4 }, "candidate \(i) weights")
            }
        }
    }

    /// Ten classes: one float16 holds a row of logits (cross_entropy_loss's vector path) but not a float8 (the scalar
    /// path), with an identity, an element-wise and a layer-wise last activation (the last always scalar).
    @Test func lossPathsGiveTheSameBitsForTenClasses() throws {
        let spec = try MLPSpec(widths: [20, 64, 10], lastLayerActivation: true)
        let candidates: [Candidate] = [Candidate(activations: [.unary(.tanh, .x), .x]),
                                       Candidate(activations: [.unary(.relu, .x), .unary(.softplus, .x)]),
                                       Candidate(activations: [.unary(.gelu, .x), .layerwise(.logSoftmax)])]
        let data = TrainerFixture.data(rows: 29, features: 20, classes: 10, seed: 12)
        let runs = try [TileShape(rows: 4, vectorWidth: 16, vectors: 4), TileShape(rows: 4, vectorWidth: 8, vectors: 1)].map { tile in
            let trainer = PopulationTrainer(device: TrainerFixture.device)
            trainer.tile = tile
            return try trainer.train(candidates: candidates, spec: spec, config: Self.config, train: data)
        }
        for (i, (a, b)) in zip(runs[0].candidates, runs[1].candidates).enumerated() {
            #expect(a.history.map(\.train) == b.history.map(\.train), "candidate \(i) losses and accuracies")
            #expect(a.weights == b.weights, "candidate \(i) weights")
        }
        let ref = try ReferenceTrainer().train(candidates: candidates, spec: spec, config: Self.config, train: data)
        for (i, (g, r)) in zip(runs[0].candidates, ref.candidates).enumerated() {
            for (ge, re) in zip(g.history, r.history) {
                #expect(abs(ge.train.loss - re.train.loss) < 1e-4, "candidate \(i) epoch \(ge.epoch)")
                #expect(ge.train.accuracy == re.train.accuracy, "candidate \(i) epoch \(ge.epoch)")
            }
        }
    }

    @Test func fourVectorTilesOnlyWhenAskedAndEveryHiddenWidthIsWhole() {
        var cpu = TrainerFixture.device.peakHint
        cpu.kind = .cpu
        cpu.preferredFloatVectorWidth = 16
        #expect(TileShape.choose(for: cpu, widths: [20, 64, 64, 64, 64, 10], maxVectors: 4) == TileShape(rows: 4, vectorWidth: 16, vectors: 4))
        #expect(TileShape.choose(for: cpu, widths: [20, 64, 64, 64, 64, 10]) == TileShape(rows: 8, vectorWidth: 16, vectors: 2))
        #expect(TileShape.choose(for: cpu, widths: [784, 32, 32, 10], maxVectors: 4) == TileShape(rows: 8, vectorWidth: 16, vectors: 2))
        #expect(TileShape.choose(for: cpu, widths: [20, 64, 96, 10], maxVectors: 4) == TileShape(rows: 8, vectorWidth: 16, vectors: 2))
    }
}

/// The fused row passes (kernels/mlp_fused.cl) on populations whose hidden layers are one tile wide:
/// `mlp_train_rows` runs a step's forward, loss and data gradients in one launch, `mlp_train_candidate` a
/// candidate's whole step, weight gradients included, in row blocks. Both must give the per-layer launches'
/// bits, candidate by candidate, for any block size, and the Double reference's numbers. The passes are the
/// CPU profile's, so these trainers set it (the suite means the same under `AFSEARCH_PROFILE=gpu`).
@Suite(.serialized) struct TrainerFusedRowsTests {
    static let tile = TileShape(rows: 4, vectorWidth: 16, vectors: 4)
    static let spec = try! MLPSpec(widths: [20, 64, 64, 10], lastLayerActivation: true)
    static let candidates: [Candidate] = [
        Candidate(activations: [.unary(.relu, .x), .unary(.mish, .x), .x]),
        Candidate(activations: [.unary(.gelu, .x), .unary(.tanh, .x), .unary(.softplus, .x)]),
        Candidate(activations: [.x, .unary(.silu, .x), .unary(.sigmoid, .x)]),
        Candidate(activations: [.unary(.elu, .x), .x, .x]),
    ]
    /// The fused passes with their block sizes, each against `.layers`.
    static let fusedPasses: [(pass: RowPass, blockRows: Int)] = [(.tiles, 32), (.candidates, 32), (.candidates, 8), (.candidates, 12)]

    static func train(_ pass: RowPass, blockRows: Int = 32, candidates: [Candidate] = candidates, config: TrainingConfig,
                      data: LabeledData, validation: LabeledData? = nil, test: LabeledData? = nil,
                      execution: ActivationExecution = .compiled, evaluationBlockRows: Int? = nil) throws -> PopulationTrainingResult {
        let trainer = PopulationTrainer(device: TrainerFixture.device)
        trainer.profile = .cpu
        trainer.activationExecution = execution
        trainer.tile = tile
        trainer.rowPass = pass
        trainer.candidateBlockRows = blockRows
        trainer.candidatePassMinimum = 1
        trainer.profileKernels = true
        if let evaluationBlockRows { trainer.evaluationBlockRows = evaluationBlockRows }
        let result = try trainer.train(candidates: candidates, spec: spec, config: config, train: data, validation: validation,
                                       test: test)
        // The pass asked for ran (the profile names every kernel that ran), in training and in the evaluation
        // passes (the final one at least); interpreted populations evaluate per layer.
        let ran = Set(result.timing.kernelSeconds.keys)
        let compiled = execution == .compiled
        #expect(ran.contains("mlp_train_candidate") == (pass == .candidates))
        #expect(ran.contains("mlp_train_rows") == (pass == .tiles))
        #expect(ran.contains("weight_gradients") == (pass != .candidates))
        #expect(ran.contains("mlp_backward_data") == (pass == .layers))
        #expect(ran.contains("mlp_eval_candidate") == (compiled && pass == .candidates))
        #expect(ran.contains("mlp_eval_rows") == (compiled && pass == .tiles))
        #expect(ran.contains("mlp_forward") == (pass == .layers || !compiled))
        #expect(ran.contains("cross_entropy_loss") == (pass == .layers || !compiled))
        return result
    }

    @Test func fusedStepsGiveThePerLayerBitsAndTheReference() throws {
        // 37 rows: a partial row tile and a partial block; mini-batches of 16 and 5 rows as well.
        let data = TrainerFixture.data(rows: 37, features: 20, classes: 10, seed: 21)
        for batch in [nil, 16] as [Int?] {
            let config = TrainingConfig(epochs: 5, learningRate: 0.01, optimizer: .adam(), batchSize: batch, seed: 7,
                                        evaluateEveryEpoch: false)
            let plain = try Self.train(.layers, config: config, data: data)
            let ref = try ReferenceTrainer().train(candidates: Self.candidates, spec: Self.spec, config: config, train: data)
            for (pass, blockRows) in Self.fusedPasses {
                let what = "\(pass) blocks of \(blockRows), batch \(String(describing: batch))"
                let fused = try Self.train(pass, blockRows: blockRows, config: config, data: data)
                for (i, (f, p)) in zip(fused.candidates, plain.candidates).enumerated() {
                    #expect(f.history.map { $0.train } == p.history.map { $0.train }, "\(what): candidate \(i) metrics")
                    #expect(f.weights == p.weights, "\(what): candidate \(i) weights")
                }
                for (i, (g, r)) in zip(fused.candidates, ref.candidates).enumerated() {
                    for (ge, re) in zip(g.history, r.history) {
                        #expect(abs(ge.train.loss - re.train.loss) < 1e-4, "\(what): candidate \(i) epoch \(ge.epoch)")
                    }
                    for (gl, rl) in zip(g.weights.layers, r.weights.layers) {
                        #expect(zip(gl.weight, rl.weight).allSatisfy { abs($0 - $1) < 1e-4 }, "\(what): candidate \(i) weights")
                    }
                }
            }
        }
    }

    /// Evaluation passes between epochs reuse the layers' buffers and the input batch.
    @Test(arguments: [RowPass.tiles, .candidates])
    func fusedStepsBetweenEvaluationsGiveThePerLayerBits(pass: RowPass) throws {
        let data = TrainerFixture.data(rows: 40, features: 20, classes: 10, seed: 23)
        let val = TrainerFixture.data(rows: 19, features: 20, classes: 10, seed: 24)
        let config = TrainingConfig(epochs: 4, learningRate: 0.01, optimizer: .adam(), seed: 9)
        let fused = try Self.train(pass, blockRows: 16, config: config, data: data, validation: val)
        let plain = try Self.train(.layers, config: config, data: data, validation: val)
        for (i, (f, p)) in zip(fused.candidates, plain.candidates).enumerated() {
            #expect(f.history == p.history && f.weights == p.weights, "\(pass): candidate \(i)")
            #expect(f.history.last?.validation != nil)
        }
    }

    @Test(arguments: [RowPass.tiles, .candidates])
    func aDivergingCandidateLeavesTheOthersBitsInAFusedStep(pass: RowPass) throws {
        let data = TrainerFixture.data(rows: 24, features: 20, classes: 10, seed: 22)
        let config = TrainingConfig(epochs: 4, learningRate: 0.05, optimizer: .adam(), seed: 3, evaluateEveryEpoch: false)
        let blowUp = Candidate(activations: [.unary(.exp, .unary(.exp, .x)), .unary(.exp, .unary(.exp, .x)), .x])
        let withIt = try Self.train(pass, candidates: Self.candidates + [blowUp], config: config, data: data)
        let without = try Self.train(.layers, candidates: Self.candidates, config: config, data: data)
        #expect(withIt.candidates[4].diverged)
        for i in Self.candidates.indices {
            #expect(!withIt.candidates[i].diverged)
            #expect(withIt.candidates[i].weights == without.candidates[i].weights, "\(pass): candidate \(i)")
        }
    }

    /// Interpreted populations (evolution's new expressions) take the fused passes too: each span's tape is
    /// walked once with tangents in the forward, and the bits are the interpreted per-layer launches', RReLU's
    /// noise (keyed per pass, layer, row and column) included.
    @Test func interpretedPopulationsTakeTheFusedPassesWithThePerLayerBits() throws {
        func parse(_ s: String) -> ActivationExpr { try! ActivationExpr.parse(s) }
        let evolved = [
            Candidate(activations: [parse("x * sigmoid(1.5 * x)"), parse("max(x, 0.3 * sin(x))"), parse("x / (1 + abs(x))")]),
            Candidate(activations: [parse("gelu(x) - 0.1 * x"), .x, parse("elu(x) * tanh(x) + elu(x)")]),
            Candidate(activations: [parse("min(relu6(x), hardswish(x))"), parse("exp(-(x * x)) * 2 - 1"), .x]),
            Candidate(activations: [.unary(.relu, .x), parse("square(tanh(x)) + hardtanh(x)"), parse("softsign(x) * 0.2")]),
            Candidate(activations: [parse("rrelu(x) + 0.5 * rrelu(x * x)"), .x, parse("rrelu(x)")]),
        ]
        let data = TrainerFixture.data(rows: 37, features: 20, classes: 10, seed: 26)
        for batch in [nil, 16] as [Int?] {
            let config = TrainingConfig(epochs: 3, learningRate: 0.01, optimizer: .adam(), batchSize: batch, seed: 8,
                                        evaluateEveryEpoch: false)
            let plain = try Self.train(.layers, candidates: evolved, config: config, data: data, execution: .interpreted)
            #expect(plain.activationExecution == .interpreted)
            #expect(plain.timing.kernelSeconds["mlp_interp_backward"] != nil)
            for (pass, blockRows) in [(RowPass.tiles, 32), (.candidates, 8)] {
                let fused = try Self.train(pass, blockRows: blockRows, candidates: evolved, config: config, data: data,
                                           execution: .interpreted)
                // The tapes ran inside the fused kernel (the forward interpreter still runs the evaluation passes).
                #expect(fused.timing.kernelSeconds["mlp_interp_backward"] == nil)
                for (i, (f, p)) in zip(fused.candidates, plain.candidates).enumerated() {
                    #expect(f.history == p.history && f.weights == p.weights, "\(pass), batch \(String(describing: batch)): candidate \(i)")
                }
            }
        }
    }

    /// Study 1's whole menu takes the fused passes: learnable parameters (PReLU: Z kept, the parameter partials
    /// where the per-layer kernels put them), noise (RReLU, Gumbel-softmax: keyed per pass, layer, row and
    /// column) and the layer-wise softmax family (whole rows of a tile, the logits' layer included), beside
    /// slopes and identity: the per-layer launches' bits, metrics, weights and learned parameters.
    @Test func theWholeMenuTakesTheFusedPassesWithThePerLayerBits() throws {
        func u(_ op: UnaryOp) -> ActivationExpr { .unary(op, .x) }
        func u(_ op: LayerwiseOp) -> ActivationExpr { .layerwise(op) }
        let prelu = try ActivationExpr.parse("prelu(x; a=0.25)")
        let menu: [Candidate] = [
            Candidate(activations: [prelu, u(.softmax), prelu]),
            Candidate(activations: [u(.rrelu), u(.gumbelSoftmax), u(.logSoftmax)]),
            Candidate(activations: [u(.softmin), prelu, u(.rrelu)]),
            Candidate(activations: [u(.tanh), u(.rrelu), u(.softmax)]),
            Candidate(activations: [u(.logSoftmax), u(.relu), u(.gumbelSoftmax)]),
            Candidate(activations: [u(.cos), u(.digamma), .x]),
        ]
        let data = TrainerFixture.data(rows: 37, features: 20, classes: 10, seed: 27)
        let val = TrainerFixture.data(rows: 11, features: 20, classes: 10, seed: 28)
        for batch in [nil, 16] as [Int?] {
            let config = TrainingConfig(epochs: 4, learningRate: 0.01, optimizer: .adam(), batchSize: batch, seed: 12)
            let plain = try Self.train(.layers, candidates: menu, config: config, data: data, validation: val)
            #expect(plain.timing.kernelSeconds["mlp_param_grads"] != nil && plain.timing.kernelSeconds["layerwise_backward"] != nil)
            for (pass, blockRows) in Self.fusedPasses {
                let fused = try Self.train(pass, blockRows: blockRows, candidates: menu, config: config, data: data, validation: val)
                #expect(fused.timing.kernelSeconds["layerwise_backward"] == nil, "layer-wise rows run inside the fused step")
                for (i, (f, p)) in zip(fused.candidates, plain.candidates).enumerated() {
                    let what = "\(pass) blocks of \(blockRows), batch \(String(describing: batch)): candidate \(i)"
                    #expect(f.history == p.history, "\(what) metrics")
                    #expect(f.weights == p.weights, "\(what) weights")
                    #expect(f.activationParameters == p.activationParameters, "\(what) learned parameters")
                }
            }
        }
    }

    /// The evaluation passes fuse where the training step does (`mlp_eval_candidate`, `mlp_eval_rows`): one
    /// launch a block of rows, the per-layer launches' bits for every kind of slot in evaluation mode (RReLU's
    /// eval slope, Gumbel-softmax's sample keyed by the split's row), splits in several gather blocks (full
    /// batch: the training set gathered again after them), a diverged candidate still evaluated.
    @Test func evaluationPassesFuseWithThePerLayerBits() throws {
        func u(_ op: UnaryOp) -> ActivationExpr { .unary(op, .x) }
        func u(_ op: LayerwiseOp) -> ActivationExpr { .layerwise(op) }
        let prelu = try ActivationExpr.parse("prelu(x; a=0.25)")
        let blowUp = try ActivationExpr.parse("exp(exp(x))")
        let menu: [Candidate] = [
            Candidate(activations: [u(.relu), u(.tanh), u(.erf)]),
            Candidate(activations: [prelu, u(.rrelu), .x]),
            Candidate(activations: [u(.softmax), u(.gelu), u(.logSoftmax)]),
            Candidate(activations: [u(.rrelu), u(.gumbelSoftmax), u(.softmin)]),
            Candidate(activations: [u(.softmin), prelu, u(.rrelu)]),
            Candidate(activations: [.x, u(.logSoftmax), u(.gumbelSoftmax)]),
            Candidate(activations: [blowUp, blowUp, .x]),
        ]
        let val = TrainerFixture.data(rows: 37, features: 20, classes: 10, seed: 31)
        let test = TrainerFixture.data(rows: 23, features: 20, classes: 10, seed: 32)
        // Full batch of 16 rows (row capacity 16: the validation split in blocks of 16, 16 and 5), and batches
        // of 8 with a capacity of 12 (blocks down to one row, a partial row tile).
        let setups: [(train: LabeledData, batch: Int?, blockRows: Int)] = [
            (TrainerFixture.data(rows: 16, features: 20, classes: 10, seed: 29), nil, 8),
            (TrainerFixture.data(rows: 30, features: 20, classes: 10, seed: 30), 8, 12),
        ]
        func bits(_ m: SplitMetrics?) -> [UInt64] { m.map { [$0.loss.bitPattern, $0.accuracy.bitPattern] } ?? [] }
        func bits(_ c: TrainedCandidate<LinearStackWeights>) -> [[UInt64]] {
            c.history.map { [UInt64($0.epoch)] + bits($0.train) + bits($0.validation) + bits($0.test) }
                + [bits(c.finalTrain), bits(c.finalValidation), bits(c.finalTest)]
        }
        for (train, batch, evaluationBlockRows) in setups {
            let config = TrainingConfig(epochs: 4, learningRate: 0.05, optimizer: .adam(), batchSize: batch, seed: 14)
            let plain = try Self.train(.layers, candidates: menu, config: config, data: train, validation: val, test: test,
                                       evaluationBlockRows: evaluationBlockRows)
            #expect(plain.candidates[6].diverged && plain.candidates.prefix(6).allSatisfy { !$0.diverged })
            #expect(plain.candidates.allSatisfy { $0.history.allSatisfy { $0.validation != nil && $0.test != nil } })
            for (pass, blockRows) in Self.fusedPasses {
                let fused = try Self.train(pass, blockRows: blockRows, candidates: menu, config: config, data: train,
                                           validation: val, test: test, evaluationBlockRows: evaluationBlockRows)
                for (i, (f, p)) in zip(fused.candidates, plain.candidates).enumerated() {
                    let what = "\(pass) blocks of \(blockRows), batch \(String(describing: batch)): candidate \(i)"
                    #expect(bits(f) == bits(p), "\(what) metrics")
                    #expect(f.diverged == p.diverged, "\(what) divergence")
                    #expect(f.weights == p.weights, "\(what) weights")
                    #expect(f.activationParameters == p.activationParameters, "\(what) learned parameters")
                }
            }
        }
    }

    /// SGD with momentum takes the candidate pass too (its update stays a separate launch).
    @Test func candidatePassWithSGDGivesThePerLayerBits() throws {
        let data = TrainerFixture.data(rows: 30, features: 20, classes: 10, seed: 25)
        let config = TrainingConfig(epochs: 3, learningRate: 0.05, optimizer: .sgd(momentum: 0.9), seed: 5,
                                    evaluateEveryEpoch: false)
        let fused = try Self.train(.candidates, blockRows: 8, config: config, data: data)
        let plain = try Self.train(.layers, config: config, data: data)
        for (i, (f, p)) in zip(fused.candidates, plain.candidates).enumerated() {
            #expect(f.history == p.history && f.weights == p.weights, "candidate \(i)")
        }
    }
}
