import Foundation
import Testing
import Kernels
import Datasets
@testable import GPUEngine

/// The GEMM variants (kernels/mlp_gemm_staged.cl, `GEMMVariant`) under the GPU profile on PoCL: local-memory
/// staging keeps every output's fma sequence, so each staged variant trains the bits of the unstaged kernels
/// with the same tile, learnable parameters included; variants with another tile give the same bits where
/// no learnable parameter is involved (`TileShape`).
@Suite(.serialized) struct GEMMVariantTests {
    /// An odd hidden width (37: edge column tiles and slabs), a 13-wide input, 10 activated logits, 70 rows
    /// (more than one row group of 8 × 4 rows, and a partial row tile), PReLU's learnable slope and a
    /// layer-wise log-softmax slot.
    static let spec = try! MLPSpec(widths: [13, 64, 37, 10], lastLayerActivation: true)
    static let candidates: [Candidate] = [
        Candidate(activations: [.unary(.relu, .x), .unary(.tanh, .x), .x]),
        Candidate(activations: [TrainerFixture.prelu, .unary(.sigmoid, .x), .layerwise(.logSoftmax)]),
        Candidate(activations: [.unary(.elu, .x), TrainerFixture.prelu, .unary(.softplus, .x)]),
    ]
    static let config = TrainingConfig(epochs: 4, learningRate: 0.01, optimizer: .adam(), seed: 3, evaluateEveryEpoch: false)
    static let data = TrainerFixture.data(rows: 70, features: 13, classes: 10, seed: 21)
    static let gpuTile = TileShape(rows: 4, vectorWidth: 4, vectors: 1)

    static func train(_ variant: GEMMVariant, candidates: [Candidate] = candidates) throws -> PopulationTrainingResult {
        let trainer = PopulationTrainer(device: TrainerFixture.device)
        trainer.profile = .gpu
        trainer.gemm = variant
        trainer.profileKernels = true
        return try trainer.train(candidates: candidates, spec: spec, config: config, train: data)
    }

    static func staged(_ tile: TileShape, _ x: Int, _ y: Int, _ k: Int) -> GEMMVariant {
        GEMMVariant(tile: tile, staging: GEMMStaging(groupColumns: x, groupRows: y, depth: k))
    }

    /// Work-groups from 2 × 2 (many groups, edge groups on every side) to 16 × 16 (one group wider than the
    /// layers), slabs from 4 deep (many slabs, a partial last one) to 16, on the GPU profile's 4 × 4 tile.
    @Test func stagedVariantsTrainTheUnstagedBits() throws {
        let reference = try Self.train(GEMMVariant(tile: Self.gpuTile))
        #expect(reference.timing.kernelSeconds["mlp_forward"] != nil)
        for variant in [Self.staged(Self.gpuTile, 2, 2, 4), Self.staged(Self.gpuTile, 8, 8, 8), Self.staged(Self.gpuTile, 16, 16, 16)] {
            let run = try Self.train(variant)
            for gemm in PopulationGEMM.allCases {
                #expect(run.timing.kernelSeconds[gemm.unstagedKernel + "_staged"] != nil, "\(variant) ran \(gemm)")
            }
            let same = GEMMTuner.sameBits(reference, run)
            #expect(same, "\(variant)")
        }
    }

    /// Vectors wider than the tile's rows (float8 and float16 with 4 or 2 rows): a group's input columns in
    /// the weight gradient span whole vectors only with rows in multiples of `rowQuantum`. Each against the
    /// unstaged kernels of its own tile.
    @Test func stagedVariantsOfWideVectorTilesTrainTheUnstagedBits() throws {
        for (tile, x, y, k) in [(TileShape(rows: 4, vectorWidth: 8, vectors: 1), 4, 2, 8), (TileShape(rows: 4, vectorWidth: 8, vectors: 2), 2, 8, 8),
                                (TileShape(rows: 2, vectorWidth: 16, vectors: 1), 2, 8, 16)] {
            let variant = Self.staged(tile, x, y, k)
            #expect(variant.unsupportedReason(on: TrainerFixture.device.peakHint) == nil)
            let reference = try Self.train(GEMMVariant(tile: tile))
            let run = try Self.train(variant)
            for gemm in PopulationGEMM.allCases {
                #expect(run.timing.kernelSeconds[gemm.unstagedKernel + "_staged"] != nil, "\(variant) ran \(gemm)")
            }
            let same = GEMMTuner.sameBits(reference, run)
            #expect(same, "\(variant)")
        }
    }

    /// Every variant of the tuning sweep and of the vendor table, staged or not, whatever its tile: the bits of
    /// the untuned GPU path on a population without learnable parameters, and the Double reference's numbers
    /// with them.
    @Test func sweepAndVendorTableTrainTheUntunedBits() throws {
        let plain = Self.candidates.filter { !$0.activations.contains { $0.parameterCount > 0 } }
            + [Candidate(activations: [.unary(.gelu, .x), .unary(.silu, .x), .layerwise(.logSoftmax)])]
        let device = TrainerFixture.device
        let untuned = GEMMVariant.untuned(for: DeviceProfile.gpu.hint(for: device), widths: Self.spec.widths)
        #expect(untuned == GEMMVariant(tile: Self.gpuTile))
        let reference = try Self.train(untuned, candidates: plain)
        let table = ["NVIDIA Corporation", "Advanced Micro Devices, Inc.", "Intel(R) Corporation"].compactMap { vendor in
            var info = device.info
            info.kind = .gpu
            info.vendor = vendor
            return GEMMVariant.knownGood(for: info)
        }
        #expect(table.count == 3)
        var variants = GEMMVariant.sweep(for: device, widths: Self.spec.widths)
        for v in table where !variants.contains(v) { variants.append(v) }
        #expect(variants.first == untuned && variants.count >= 10)
        for variant in variants.dropFirst() {
            let same = GEMMTuner.sameBits(reference, try Self.train(variant, candidates: plain))
            #expect(same, "\(variant)")
        }
        let exact = try ReferenceTrainer().train(candidates: plain, spec: Self.spec, config: Self.config, train: Self.data)
        for (g, r) in zip(reference.candidates, exact.candidates) {
            for (ge, re) in zip(g.history, r.history) { #expect(abs(ge.train.loss - re.train.loss) < 1e-4) }
        }
    }

    /// Interpreted activations (identity in the GEMMs, tapes after them) and the continuous pool (slots
    /// refilled mid-run, a diverging candidate, noise, softmax) run the staged kernels to the same bits.
    @Test func interpretedAndPooledRunsTrainTheUnstagedBits() throws {
        let variant = Self.staged(Self.gpuTile, 4, 4, 8)
        let plain = Self.candidates.filter { !$0.activations.contains { $0.parameterCount > 0 } }
        let interpreted = try [GEMMVariant(tile: Self.gpuTile), variant].map { v -> PopulationTrainingResult in
            let trainer = PopulationTrainer(device: TrainerFixture.device)
            trainer.profile = .gpu
            trainer.gemm = v
            trainer.activationExecution = .interpreted
            return try trainer.train(candidates: plain, spec: Self.spec, config: Self.config, train: Self.data)
        }
        #expect(interpreted[0].activationExecution == .interpreted)
        let same = GEMMTuner.sameBits(interpreted[0], interpreted[1])
        #expect(same)

        let config = TrainingConfig(epochs: 6, learningRate: 0.02, optimizer: .adam(), seed: 4,
                                    earlyStopping: EarlyStopping(patience: 2, minImprovement: 0), evaluateEveryEpoch: true)
        let train = TrainerFixture.data(rows: 45, seed: 31), validation = TrainerFixture.data(rows: 20, seed: 32)
        let pooled = try [GEMMVariant(tile: Self.gpuTile), variant].map { v -> [Int: PooledResult] in
            let trainer = PopulationPoolTests.trainer()
            trainer.profile = .gpu
            trainer.gemm = v
            return try PopulationPoolTests.pooled(slots: 5, order: Array(0..<13), config: config, train: train,
                                                  validation: validation, trainer: trainer).results
        }
        #expect(pooled[0].count == 13 && pooled[1].count == 13)
        for tag in 0..<13 {
            let (a, b) = (pooled[0][tag]!, pooled[1][tag]!)
            let same = PopulationPoolTests.sameBits(a.history, b.history) && (a.diverged || a.weights == b.weights)
            #expect(same, "candidate \(tag)")
        }
    }

    @Test func launchShapesRoundUpToWholeGroups() {
        let v = Self.staged(Self.gpuTile, 16, 8, 16)
        #expect(v.launchShape(columnTiles: 3, rowTiles: 18, candidates: 5).global == [3, 24, 5])
        #expect(v.launchShape(columnTiles: 3, rowTiles: 18, candidates: 5).local == [3, 8, 1])
        #expect(v.launchShape(columnTiles: 20, rowTiles: 2, candidates: 1).global == [32, 2, 1])
        #expect(GEMMVariant(tile: Self.gpuTile).launchShape(columnTiles: 3, rowTiles: 18, candidates: 5).local == nil)
        #expect(v.buildOptions == "-DMLP_STAGED -DMLP_WGX=16 -DMLP_WGY=8 -DMLP_BK=16")
        #expect(GEMMVariant(tile: Self.gpuTile).buildOptions.isEmpty)
        var hint = TrainerFixture.device.peakHint
        hint.maxWorkGroupSize = 64
        #expect(v.unsupportedReason(on: hint) != nil)
        #expect(Self.staged(Self.gpuTile, 4, 4, 6).unsupportedReason(on: TrainerFixture.device.peakHint) != nil)
        #expect(Self.staged(TileShape(rows: 2, vectorWidth: 16, vectors: 1), 4, 4, 16).unsupportedReason(on: TrainerFixture.device.peakHint) != nil)
        let wide = Self.staged(TileShape(rows: 4, vectorWidth: 8, vectors: 1), 8, 8, 8)
        #expect(wide.rowQuantum == 2 && wide.launchShape(columnTiles: 2, rowTiles: 5, candidates: 3).global == [2, 6, 3])
        #expect(wide.launchShape(columnTiles: 2, rowTiles: 5, candidates: 3).local == [2, 6, 1])
    }

    /// The vendor table answers GPUs of the three vendors only; any other device under the GPU profile (PoCL
    /// here) gets the fallback row unless the cache holds a winner, and an explicit tile the preferred staging
    /// cannot take runs unstaged.
    @Test func vendorTableAndFallback() throws {
        var info = TrainerFixture.device.info
        info.vendor = "NVIDIA Corporation"
        info.kind = .cpu
        #expect(GEMMVariant.knownGood(for: info) == nil)
        info.kind = .gpu
        #expect(GEMMVariant.knownGood(for: info)?.staging != nil)
        info.vendor = "Some Other Vendor"
        #expect(GEMMVariant.knownGood(for: info) == nil)
        let empty = GEMMTuningCache(directory: nil)
        #expect(GEMMVariant.preferred(for: TrainerFixture.device, tuning: empty, widths: Self.spec.widths) == GEMMVariant.fallback)
        let trainer = PopulationTrainer(device: TrainerFixture.device)
        trainer.profile = .gpu
        trainer.gemmTuning = empty
        #expect(try trainer.tuning(widths: Self.spec.widths).gemm == GEMMVariant.fallback)
        trainer.tile = TileShape(rows: 4, vectorWidth: 16, vectors: 1)
        #expect(try trainer.tuning(widths: Self.spec.widths).gemm == GEMMVariant(tile: trainer.tile!))
        trainer.gemm = Self.staged(trainer.tile!, 8, 8, 8)
        #expect(throws: TrainerError.self) { try trainer.tuning(widths: Self.spec.widths) }
    }

    /// The cache round-trips the winner, keyed by device and driver: another driver string misses, a
    /// corrupt file is ignored; the GPU profile's trainer takes the stored winner (its staged kernels run).
    @Test func tuningCacheRoundTripsAndTheTrainerTakesTheWinner() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("afsearch-gemm-tuning-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let cache = GEMMTuningCache(directory: folder)
        let info = TrainerFixture.device.info
        let winner = Self.staged(Self.gpuTile, 8, 8, 8)
        #expect(cache.winner(for: info) == nil)
        let record = GEMMTuningRecord(key: GEMMTuningCache.keyText(for: info), winner: winner, measurements: [], date: "2026-01-01T00:00:00Z")
        let file = try cache.store(record, for: info)
        #expect(file.deletingLastPathComponent().path.hasPrefix(folder.path))
        #expect(cache.winner(for: info) == winner)
        var otherDriver = info
        otherDriver.driverVersion += "-other"
        #expect(cache.winner(for: otherDriver) == nil)
        #expect(cache.fileURL(for: otherDriver) != file)

        let trainer = PopulationTrainer(device: TrainerFixture.device)
        trainer.profile = .gpu
        trainer.gemmTuning = cache
        trainer.profileKernels = true
        let run = try trainer.train(candidates: Self.candidates, spec: Self.spec, config: Self.config, train: Self.data)
        #expect(run.timing.kernelSeconds["mlp_forward_staged"] != nil)
        trainer.profile = .cpu
        #expect(try trainer.tuning(widths: Self.spec.widths).gemm.staging == nil, "the CPU profile ignores the tuning cache")

        try Data("not json".utf8).write(to: file)
        #expect(cache.winner(for: info) == nil)
        #expect(GEMMTuningCache.defaultDirectory(environment: ["AFSEARCH_CACHE": "/tmp/x"])?.path == "/tmp/x/gemm-tuning")
    }
}
