import Foundation
import Testing
import Kernels
import Datasets
@testable import GPUEngine

/// The CNN trainer's GEMM variants (kernels/cnn_conv_staged.cl, `GEMMVariant` with `GEMMNetwork.cnn`) under
/// the GPU profile on PoCL: the staged convolutions and Linear layers keep every output's fma sequence, so
/// each staged variant trains the bits of the unstaged CNN kernels with the same tile.
@Suite(.serialized) struct CNNGEMMVariantTests {
    /// Padding (taps outside the image in the forward and the weight gradient, a full correlation's border in
    /// the data gradient), 3 input channels (the scalar im2col gather, the weight gradient's general path), 4
    /// channels into the second conv (IC % TM == 0: the weight gradient's tap-by-tap path and the vector
    /// gather), 5 and 6 channels (not a multiple of the tile's columns), 5 × 6 pixels × 5 images = 150 rows
    /// per micro-batch (a partial row tile and a partial last row block), micro-batches of 5 + 2 images.
    static let arch = try! NetworkArchitecture(parsing: "conv3x3:5:p1,conv3x3:4:p1,pool2,conv2x2:6:p1,flatten,fc:7,fc:3")
    static let shape = [3, 5, 6]
    static let data = CNNFixture.images(rows: 13, shape: shape, seed: 41)
    static let config = TrainingConfig(epochs: 2, learningRate: 0.01, optimizer: .adam(), batchSize: 7, seed: 5, evaluateEveryEpoch: false)
    /// Four slots; a learnable PReLU slope in the second (its partials come from cnn_act_backward).
    static let candidates = [
        CNNCandidate(activations: [.unary(.tanh, .x), .unary(.softplus, .x), .unary(.sigmoid, .x), .unary(.tanh, .x)]),
        CNNCandidate(activations: [.unary(.relu, .x), CNNActivationFeatureTests.prelu, .unary(.softplus, .x), .unary(.sigmoid, .x)]),
    ]
    static let gpuTile = TileShape(rows: 4, vectorWidth: 4, vectors: 1)
    static let wideTile = TileShape(rows: 4, vectorWidth: 4, vectors: 2)
    static let staged = ["cnn_conv_forward", "cnn_conv_backward_data", "cnn_conv_backward_weights", "cnn_linear_forward",
                         "cnn_linear_backward_data", "weight_gradients"].map { $0 + "_staged" }

    static func trainer(_ variant: GEMMVariant?) -> PopulationCNNTrainer {
        let t = PopulationCNNTrainer(device: TrainerFixture.device, activationSource: StandInActivationSource.source(for:))
        t.microBatchImages = 5
        t.profile = .gpu
        t.gemm = variant
        t.gemmTuning = GEMMTuningCache(directory: nil)
        t.profileKernels = true
        return t
    }

    static func train(_ variant: GEMMVariant?, candidates: [CNNCandidate] = candidates) throws -> CNNTrainingResult {
        try trainer(variant).train(candidates: candidates, architecture: arch, config: config, train: data)
    }

    static func variant(_ tile: TileShape, _ x: Int, _ y: Int, _ k: Int) -> GEMMVariant {
        GEMMVariant(tile: tile, staging: GEMMStaging(groupColumns: x, groupRows: y, depth: k))
    }

    /// The fallback (4 × 4 tiles in 8 × 8 groups, 8 deep: partial slabs of the first conv's 27 entries) and
    /// 16 × 8 groups 16 deep on the 4 × 4 tile; 4 × 8 tiles (two vectors) in 8 × 8 groups; each against the
    /// unstaged kernels of its tile, a few Adam steps (four, each of two micro-batches) with weight gradients.
    @Test func stagedVariantsTrainTheUnstagedBits() throws {
        for (tile, variants) in [(Self.gpuTile, [GEMMVariant.fallback, Self.variant(Self.gpuTile, 16, 8, 16)]),
                                 (Self.wideTile, [Self.variant(Self.wideTile, 8, 8, 8)])] {
            let reference = try Self.train(GEMMVariant(tile: tile))
            #expect(reference.timing.kernelSeconds["cnn_conv_forward"] != nil && reference.timing.kernelSeconds["cnn_conv_forward_staged"] == nil)
            #expect(reference.candidates.allSatisfy { !$0.diverged })
            for variant in variants {
                #expect(variant.tile == tile)
                let run = try Self.train(variant)
                for name in Self.staged { #expect(run.timing.kernelSeconds[name] != nil, "\(variant) ran \(name)") }
                let same = GEMMTuner.sameBits(reference, run)
                #expect(same, "\(variant)")
            }
        }
    }

    /// float8 vectors with 4-row tiles: the weight gradients' groups take rows in pairs (`rowQuantum`).
    @Test func stagedWideVectorTileTrainsTheUnstagedBits() throws {
        let tile = TileShape(rows: 4, vectorWidth: 8, vectors: 1)
        let variant = Self.variant(tile, 4, 2, 8)
        #expect(variant.unsupportedReason(on: TrainerFixture.device.peakHint, network: .cnn) == nil)
        let same = GEMMTuner.sameBits(try Self.train(GEMMVariant(tile: tile)), try Self.train(variant))
        #expect(same)
    }

    /// A Linear layer fed straight from the images (flatten first): 1 × 5 × 5 images give rows of 25 floats,
    /// not a multiple of the vector width, so the staged slabs' last vector of a row reaches past its end
    /// (into the next row, or the buffer's slack after the last); those columns are never used or stored.
    @Test func stagedLinearOnRowsOfOddWidthTrainsTheUnstagedBits() throws {
        let arch = try NetworkArchitecture(parsing: "flatten,fc:7,fc:5,fc:3")
        let data = CNNFixture.images(rows: 13, shape: [1, 5, 5], seed: 43)
        let cands = [CNNCandidate(activations: [.unary(.tanh, .x), .unary(.sigmoid, .x)]),
                     CNNCandidate(activations: [CNNActivationFeatureTests.prelu, .unary(.softplus, .x)])]
        func train(_ variant: GEMMVariant) throws -> CNNTrainingResult {
            try Self.trainer(variant).train(candidates: cands, architecture: arch, config: Self.config, train: data)
        }
        let reference = try train(GEMMVariant(tile: Self.gpuTile))
        #expect(reference.candidates.allSatisfy { !$0.diverged })
        let run = try train(.fallback)
        #expect(run.timing.kernelSeconds["cnn_linear_forward_staged"] != nil)
        let same = GEMMTuner.sameBits(reference, run)
        #expect(same)
    }

    /// The fallback's staged kernels against the Double reference CNN (10 Adam steps, micro-batches of 8 + 4).
    @Test func stagedFallbackMatchesTheReference() throws {
        let data = CNNFixture.images(rows: 24, seed: 1)
        let config = TrainingConfig(epochs: 5, learningRate: 0.005, batchSize: 12, seed: 4, evaluateEveryEpoch: false)
        let cand = [CNNCandidate(activations: CNNFixture.smooth)]
        let trainer = Self.trainer(nil)
        trainer.microBatchImages = 8
        #expect(try trainer.tuning(inputChannels: 2, architecture: CNNFixture.arch).gemm == GEMMVariant.fallback)
        let gpu = try trainer.train(candidates: cand, architecture: CNNFixture.arch, config: config, train: data)
        #expect(gpu.timing.kernelSeconds["cnn_conv_backward_weights_staged"] != nil)
        let ref = try ReferenceCNNTrainer().train(candidates: cand, architecture: CNNFixture.arch, inputShape: CNNFixture.shape,
                                                  config: config, train: data, microBatchImages: 8)[0]
        let g = gpu.candidates[0]
        for (ge, re) in zip(g.history, ref.history) {
            #expect(abs(ge.train.loss - re.train.loss) < 1e-4, "epoch \(ge.epoch): \(ge.train.loss) vs \(re.train.loss)")
        }
        let worst = zip(g.weights.values, ref.weights.values).map { abs($0 - $1) }.max()!
        #expect(worst < 1e-4, "largest weight difference \(worst)")
    }

    /// The CNN trainer chooses as the MLP trainer does: under the GPU profile the tuned winner for the CNN,
    /// else the vendor table's row or the fallback (PoCL), under the CPU profile the unstaged kernels; an MLP
    /// winner in the same cache is not the CNN's.
    @Test func chosenVariantFollowsTheProfileAndTheCNNsOwnCacheEntry() throws {
        let trainer = Self.trainer(nil)
        #expect(try trainer.tuning(inputChannels: 3, architecture: Self.arch).gemm == GEMMVariant.fallback)
        trainer.profile = .cpu
        let cpu = try trainer.tuning(inputChannels: 3, architecture: Self.arch)
        #expect(cpu.gemm.staging == nil && cpu.gemm.tile == cpu.tile)

        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("afsearch-cnn-gemm-tuning-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let cache = GEMMTuningCache(directory: folder)
        let info = TrainerFixture.device.info
        let mlpWinner = Self.variant(Self.gpuTile, 4, 4, 8), cnnWinner = Self.variant(Self.gpuTile, 16, 8, 16)
        try cache.store(GEMMTuningRecord(key: GEMMTuningCache.keyText(for: info), winner: mlpWinner, measurements: [], date: "-"), for: info)
        trainer.profile = .gpu
        trainer.gemmTuning = cache
        #expect(try trainer.tuning(inputChannels: 3, architecture: Self.arch).gemm == GEMMVariant.fallback)
        try cache.store(GEMMTuningRecord(key: GEMMTuningCache.keyText(for: info, network: .cnn), winner: cnnWinner, measurements: [],
                                         date: "-"), for: info, network: .cnn)
        #expect(cache.fileURL(for: info, network: .cnn) != cache.fileURL(for: info))
        #expect(try trainer.tuning(inputChannels: 3, architecture: Self.arch).gemm == cnnWinner)
        #expect(cache.winner(for: info) == mlpWinner)

        // Four vectors a row: no CNN kernel holds them, staged or not; the MLP's may.
        let four = GEMMVariant(tile: TileShape(rows: 4, vectorWidth: 4, vectors: 4), staging: GEMMStaging(groupColumns: 8, groupRows: 8, depth: 8))
        #expect(four.unsupportedReason(on: TrainerFixture.device.peakHint, network: .cnn) != nil)
        #expect(four.unsupportedReason(on: TrainerFixture.device.peakHint) == nil)
        trainer.gemm = four
        #expect(throws: TrainerError.self) { try trainer.tuning(inputChannels: 3, architecture: Self.arch) }
        #expect(GEMMVariant.sweep(for: TrainerFixture.device, widths: [3, 5, 4, 6, 7, 3], network: .cnn).allSatisfy { $0.tile.vectors <= 2 })
    }
}
