import Foundation
import Kernels
import Datasets

/// Trains a population of MLPs on one OpenCL device, all candidates in the same launches.
///
/// One step (kernels/mlp_*.cl): gather the batch (mini-batch only) → per layer a batched GEMM with bias
/// and the candidate's activation fused in its epilogue (+ a row kernel for layer-wise slots) → the
/// cross-entropy kernel, which also starts the backward pass → per-candidate loss sums with the
/// divergence guard → per layer the weight-gradient GEMM and the data-gradient GEMM with the activation
/// derivative fused in its epilogue → learnable-parameter gradients (when any) → one fused Adam/SGD launch
/// over all parameters of all candidates. The host reads back only the per-epoch metrics and statuses.
/// The forward keeps act'(Z) instead of Z for expressions without parameters or noise, so the backward
/// multiplies. On CPUs, populations whose hidden layers are one tile wide run the forward, the loss and the
/// data gradients of a step as one launch (`rowPass`, kernels/mlp_fused.cl) with the same bits, and with
/// enough candidates one work-item takes a candidate's whole step, its weight gradients included. Interpreted
/// populations (evolution's) run those passes too, walking each tape once with tangents in the forward.
///
/// Exactness: each candidate only ever reads its own slices, and every sum runs in a fixed order, so a
/// candidate's result does not depend on the rest of the population, on the chunking or on the tile
/// shape (same device, same seed → same bits).
public final class PopulationTrainer: PopulationTrainerBase, @unchecked Sendable {
    /// Most rows one pass holds (training batch excepted); larger splits are evaluated in blocks this size.
    public var evaluationBlockRows = 2048
    /// Compiled execution: expressions compiled into every program, in this order, used or not. A search
    /// over a fixed menu (à la carte) sets the menu here, so all its populations share one program, built
    /// once, instead of one program per population's particular subset of the menu.
    public var vocabulary: [ActivationExpr] = []
    /// Under the CPU profile, how a training step's row work is launched where the population allows fusing
    /// it (`TrainingSession.fusedRowsAllowed`); the results are the same bits either way. The GPU profile
    /// always runs `layers`.
    public var rowPass: RowPass = .candidates
    /// `RowPass.candidates`: rows per block (rounded up to the tile's rows). A block's activations and
    /// gradients of every layer (rows × widths × 8 bytes) should stay in a core's cache.
    public var candidateBlockRows = 32
    /// `RowPass.candidates` runs for chunks of at least this many candidates (a work-item each), smaller
    /// chunks run `tiles`; nil: the device's compute units, so that every core has a candidate.
    public var candidatePassMinimum: Int?

    public func train(candidates: [Candidate], spec: MLPSpec, config: TrainingConfig, train: LabeledData,
                      validation: LabeledData? = nil, test: LabeledData? = nil,
                      progress: ((EpochProgress) -> Void)? = nil) throws -> PopulationTrainingResult {
        try TrainingInputCheck.validate(candidates: candidates, spec: spec, config: config,
                                        splits: [("training", train), ("validation", validation), ("test", test)])
        var timing = TrainingTiming()
        let (profile, tile, gemm) = try tuning(widths: spec.widths)

        let clock = ContinuousClock.now
        let pop = try PopulationProgram(candidates: candidates, tile: tile, activationSource: activationSource,
                                        execution: activationExecution, vocabulary: vocabulary)
        let program = try device.program(source: pop.source, options: gemm.buildOptions(after: profile.buildOptions), cache: cache)
        timing.compileSeconds = Self.seconds(since: clock)

        let batch = min(config.batchSize ?? train.rowCount, train.rowCount)
        let layout = self.layout(spec: spec, tile: tile, kmax: pop.kmax, batch: batch, splits: [train, validation, test])
        let chunk = try chunkSize(layout: layout, population: candidates.count)

        var results: [CandidateResult?] = Array(repeating: nil, count: candidates.count)
        var chunks = 0
        for start in stride(from: 0, to: candidates.count, by: chunk) {
            let members = Array(start..<min(start + chunk, candidates.count))
            let starts = members.map { i in
                candidates[i].startingPoint(runSeed: config.seed, index: i) { LinearInit.weights(widths: spec.widths, seed: $0) }
            }
            let session = try TrainingSession(
                device: device, profile: profile, gemm: gemm, program: program, layout: layout, popProgram: pop, members: members,
                initial: starts.map { layout.packWeights($0.weights, activationParameters: $0.activationParameters) },
                seeds: starts.map(\.seed32), optimizer: config.optimizer, rowPass: rowPass, blockRows: candidateBlockRows,
                candidateMinimum: candidatePassMinimum)
            session.profiling = profileKernels
            let trained = try EpochLoop.run(session, parameterCounts: members.map { pop.parameterCounts[$0] }, config: config,
                                            train: train, validation: validation, test: test, progress: progress, timing: &timing)
            for (k, r) in trained.enumerated() { results[members[k]] = r }
            chunks += 1
        }
        return PopulationTrainingResult(candidates: results.map { $0! }, timing: timing, chunks: chunks,
                                        activationExecution: pop.execution)
    }

    /// The profile this run takes (`DeviceProfile.resolve`), the GEMM tile and the GEMMs' variant (whose
    /// tile it is): `tile` when set, else `gemm`'s, else the profile's choice (`GEMMVariant.preferred` under
    /// the GPU profile, `TileShape.choose` under the CPU one) for these layer widths.
    func tuning(widths: [Int]) throws -> (profile: DeviceProfile, tile: TileShape, gemm: GEMMVariant) {
        let profile = try DeviceProfile.resolve(self.profile, device: device)
        let variant = try GEMMVariant.resolve(explicit: gemm, tile: tile, profile: profile, device: device, tuning: gemmTuning,
                                              widths: widths, network: .mlp)
        return (profile, variant.tile, variant)
    }

    /// Where a candidate's state lives, with room for a training batch of `batch` rows and for evaluation
    /// passes over `splits` in blocks of at most `evaluationBlockRows` rows.
    func layout(spec: MLPSpec, tile: TileShape, kmax: Int, batch: Int, splits: [LabeledData?]) -> MLPLayout {
        let rows = splits.compactMap { $0?.rowCount }.max() ?? 0
        return MLPLayout(spec: spec, tile: tile, kmax: kmax, capacityRows: max(batch, min(rows, max(evaluationBlockRows, 1))))
    }

    func chunkSize(layout: MLPLayout, population: Int) throws -> Int {
        try chunkSize(bytesPerCandidate: layout.bytesPerCandidate, largestBufferBytesPerCandidate: layout.largestBufferBytesPerCandidate,
                      population: population, needs: "one candidate needs \(layout.bytesPerCandidate) bytes")
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}
