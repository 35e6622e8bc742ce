import Foundation
import Testing
import Kernels
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

    /// Ten classes: one float16 holds a row of logits (mlp_loss's vector path) but not a float8 (the scalar
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
