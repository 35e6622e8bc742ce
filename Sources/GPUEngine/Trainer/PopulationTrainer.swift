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
public final class PopulationTrainer: @unchecked Sendable {
    public let device: ComputeDevice
    /// Register tile of the GEMMs; chosen from the device unless given.
    public var tile: TileShape?
    /// The GEMMs' variant (tile and local-memory staging, `GEMMVariant`); nil: under the GPU profile
    /// `GEMMVariant.preferred` (the tuned winner in `gemmTuning`, else the vendor table or its fallback), under
    /// the CPU profile the unstaged kernels. `tile`, when set, replaces the variant's tile (a preferred staging
    /// the tile cannot take is dropped; an explicit one is an error).
    public var gemm: GEMMVariant?
    /// Where the GPU profile looks for `afsearch bench gemm --tune`'s winner.
    public var gemmTuning = GEMMTuningCache.shared
    /// Whose choices the trainer makes (tile, fused row passes, work-group sizes, build options); nil:
    /// `$AFSEARCH_PROFILE`, else the device's own kind. `.gpu` on PoCL runs a GPU's path (`DeviceProfile`).
    public var profile: DeviceProfile?
    /// Device memory the trainer may use for one chunk; default 60 % of the device's global memory.
    public var memoryBudgetBytes: Int?
    /// Most candidates trained at once (the rest wait for the next chunk); nil = as many as fit.
    public var maxChunkSize: Int?
    /// Most rows one pass holds (training batch excepted); larger splits are evaluated in blocks this size.
    public var evaluationBlockRows = 2048
    /// Read every launch's profiling counters into `TrainingTiming.kernelSeconds` (costs a little time).
    public var profileKernels = false
    /// Fused compiled activations (default), or the interpreter for populations of new expressions.
    public var activationExecution: ActivationExecution = .compiled
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
    let activationSource: PopulationProgram.ActivationSource
    let cache: ProgramCache

    /// Trains with the project's activation code generator (`ActivationCodegen`).
    public convenience init(device: ComputeDevice, cache: ProgramCache = .shared) {
        self.init(device: device, cache: cache, activationSource: { try ActivationCodegen.checkedSource(for: $0) })
    }

    /// `activationSource` generates the element-wise functions (`af_act`, `af_dact`, `af_dparam`) for a
    /// list of expressions (ids = positions), e.g. a stand-in for tests.
    public init(device: ComputeDevice, cache: ProgramCache = .shared,
                activationSource: @escaping @Sendable ([ActivationExpr]) throws -> String) {
        self.device = device
        self.cache = cache
        self.activationSource = activationSource
    }

    public func train(candidates: [Candidate], spec: MLPSpec, config: TrainingConfig, train: LabeledData,
                      validation: LabeledData? = nil, test: LabeledData? = nil,
                      progress: ((EpochProgress) -> Void)? = nil) throws -> PopulationTrainingResult {
        try TrainingInputCheck.validate(candidates: candidates, spec: spec, config: config,
                                        splits: [("training", train), ("validation", validation), ("test", test)])
        var timing = TrainingTiming()
        let (profile, tile, gemm) = try tuning(widths: spec.widths)

        var clock = ContinuousClock.now
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
            clock = ContinuousClock.now
            let run = try ChunkRun(trainer: self, profile: profile, gemm: gemm, program: program, pop: pop, layout: layout, members: members,
                                   candidates: candidates, config: config, train: train, validation: validation,
                                   test: test, progress: progress)
            for (k, r) in try run.execute(timing: &timing).enumerated() { results[members[k]] = r }
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
        let chosen = gemm ?? (profile == .gpu ? GEMMVariant.preferred(for: device, tuning: gemmTuning, widths: widths) : nil)
        let t = tile ?? chosen?.tile ?? TileShape.choose(for: profile.hint(for: device), widths: widths, maxVectors: 4)
        var variant = GEMMVariant(tile: t, staging: chosen?.staging)
        if let reason = variant.unsupportedReason(on: profile.hint(for: device)) {
            // An explicit variant must run as asked; a preferred one meets an explicit tile it cannot stage.
            guard gemm == nil else { throw TrainerError.invalidConfig("GEMM variant \(variant): \(reason)") }
            variant.staging = nil
        }
        return (profile, t, variant)
    }

    /// Where a candidate's state lives, with room for a training batch of `batch` rows and for evaluation
    /// passes over `splits` in blocks of at most `evaluationBlockRows` rows.
    func layout(spec: MLPSpec, tile: TileShape, kmax: Int, batch: Int, splits: [LabeledData?]) -> MLPLayout {
        let rows = splits.compactMap { $0?.rowCount }.max() ?? 0
        return MLPLayout(spec: spec, tile: tile, kmax: kmax, capacityRows: max(batch, min(rows, max(evaluationBlockRows, 1))))
    }

    func chunkSize(layout: MLPLayout, population: Int) throws -> Int {
        let budget = PopulationChunking.budget(memoryBudgetBytes, device: device)
        guard let size = PopulationChunking.size(
            budget: budget, device: device, bytesPerCandidate: layout.bytesPerCandidate,
            largestBufferBytesPerCandidate: layout.largestBufferBytesPerCandidate,
            maxChunkSize: maxChunkSize, population: population)
        else {
            throw TrainerError.doesNotFit(
                "one candidate needs \(layout.bytesPerCandidate) bytes (largest buffer \(layout.largestBufferBytesPerCandidate)); "
                + "budget \(budget) bytes, largest allocation \(device.info.maxAllocationBytes) bytes on \(device.info.name)")
        }
        return size
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}

/// The epoch loop of one chunk: steps, per-epoch metrics, early stopping, evaluation, final results.
struct ChunkRun {
    let session: TrainingSession
    let members: [Int]
    let candidates: [Candidate]
    let pop: PopulationProgram
    let config: TrainingConfig
    let train: LabeledData
    let validation: LabeledData?
    let test: LabeledData?
    let progress: ((EpochProgress) -> Void)?

    init(trainer: PopulationTrainer, profile: DeviceProfile, gemm: GEMMVariant, program: ComputeProgram, pop: PopulationProgram, layout: MLPLayout, members: [Int],
         candidates: [Candidate], config: TrainingConfig, train: LabeledData, validation: LabeledData?, test: LabeledData?,
         progress: ((EpochProgress) -> Void)?) throws {
        let spec = layout.spec
        var initial: [(params: [Float], mirror: [Float])] = []
        var seeds: [UInt32] = []
        for i in members {
            let c = candidates[i]
            let seed = c.effectiveSeed(runSeed: config.seed, index: i)
            let w = c.initialWeights ?? LinearInit.weights(widths: spec.widths, seed: seed)
            let act = c.initialActivationParameters
                ?? c.activations.map { e in e.isLayerwise ? [] : e.parameters.map { Float($0.initial) } }
            initial.append(layout.packWeights(w, activationParameters: act))
            seeds.append(NoiseKey.seed32(seed))
        }
        session = try TrainingSession(device: trainer.device, profile: profile, gemm: gemm, program: program, layout: layout,
                                      popProgram: pop, members: members, initial: initial, seeds: seeds, optimizer: config.optimizer,
                                      rowPass: trainer.rowPass, blockRows: trainer.candidateBlockRows,
                                      candidateMinimum: trainer.candidatePassMinimum)
        session.profiling = trainer.profileKernels
        self.members = members
        self.candidates = candidates
        self.pop = pop
        self.config = config
        self.train = train
        self.validation = validation
        self.test = test
        self.progress = progress
    }

    func execute(timing: inout TrainingTiming) throws -> [CandidateResult] {
        let s = session, P = members.count, n = train.rowCount
        var clock = ContinuousClock.now
        try s.upload(split: "train", train)
        if let validation { try s.upload(split: "validation", validation) }
        if let test { try s.upload(split: "test", test) }
        let batch = min(config.batchSize ?? n, n)
        let fullBatch = batch >= n
        if fullBatch { try s.gather(split: "train", start: 0, rows: n, useOrder: false) }

        var ledger = EpochLedger(count: P, earlyStopping: config.earlyStopping)
        var step = 0
        var evalSeconds = 0.0
        for epoch in 0..<config.epochs {
            if ledger.allFrozen { break }
            try s.trainMetrics.fill(0)
            if !fullBatch {
                s.order = try s.device.buffer(EpochShuffle.order(rows: n, seed: config.seed, epoch: epoch))
            }
            for start in stride(from: 0, to: n, by: batch) {
                let rows = min(batch, n - start)
                if fullBatch {
                    // The whole training set stays in the input batch, except after an evaluation pass,
                    // which gathers its own rows into the same buffers.
                    if epoch > 0 && config.evaluateEveryEpoch && (validation != nil || test != nil) {
                        try s.gather(split: "train", start: 0, rows: n, useOrder: false)
                    }
                } else {
                    try s.gather(split: "train", start: start, rows: rows, useOrder: true)
                }
                let pass = UInt32(truncatingIfNeeded: step)
                try s.trainStep(rows: rows, pass: pass, step: step, config: config)
                step += 1
            }
            let metrics = try s.trainMetrics.download()
            try s.collectProfile()
            let statuses = try s.status.download()
            let evalClock = ContinuousClock.now
            var val: [(lossSum: Double, hits: Double)]?, tst: [(lossSum: Double, hits: Double)]?
            if config.evaluateEveryEpoch {
                if validation != nil { val = try s.evaluate(split: "validation") }
                if test != nil { tst = try s.evaluate(split: "test") }
            }
            evalSeconds += PopulationTrainer.seconds(since: evalClock)
            let newStatus = ledger.record(epoch: epoch, trainSums: metrics, trainRows: n, statuses: statuses,
                                          validation: val.map { ($0, validation!.rowCount) }, test: tst.map { ($0, test!.rowCount) })
            if newStatus != statuses { try s.status.upload(newStatus) }
            progress?(ledger.progress(epoch: epoch, epochs: config.epochs))
        }
        timing.trainSeconds += PopulationTrainer.seconds(since: clock) - evalSeconds
        timing.evaluateSeconds += evalSeconds

        clock = ContinuousClock.now
        let finalTrain = try s.evaluate(split: "train")
        let finalVal = try validation.map { _ in try s.evaluate(split: "validation") }
        let finalTest = try test.map { _ in try s.evaluate(split: "test") }
        let params = try s.params.download()
        timing.evaluateSeconds += PopulationTrainer.seconds(since: clock)
        try s.collectProfile()
        timing.kernelSeconds.merge(s.kernelSeconds, uniquingKeysWith: +)

        let metrics = EpochLedger.metrics
        let stride = s.layout.parameterStride
        return (0..<P).map { k in
            let (weights, act) = s.layout.unpackWeights(params[(k * stride)..<((k + 1) * stride)],
                                                        parameterCounts: pop.parameterCounts[members[k]])
            return CandidateResult(history: ledger.histories[k], diverged: ledger.diverged[k], stoppedEarly: ledger.stopped[k],
                                   finalTrain: metrics(finalTrain[k], n),
                                   finalValidation: finalVal.map { metrics($0[k], validation!.rowCount) },
                                   finalTest: finalTest.map { metrics($0[k], test!.rowCount) },
                                   weights: weights, activationParameters: act)
        }
    }
}
