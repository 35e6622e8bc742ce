import Foundation
import Datasets
import Kernels

/// Continuous population training of MLPs (`SlotPoolLoop`, which `CNNPool` shares): `slots` networks of one
/// shape train in the same launches, and the moment one stops (early stopping, divergence or its epoch cap)
/// its result leaves and the slot takes the next candidate at the next step. A study whose candidates need 11
/// epochs at the median and 300 at the most no longer waits for each chunk's slowest member (DESIGN.md, "How
/// data flows").
///
/// Exactness: a candidate's result depends only on its seed, never on its slot, its entry step or its
/// neighbours: the same bits as `PopulationTrainer.train` gives it alone (`PopulationPoolTests`).
///
/// Batches (`SlotPoolLoop`): full batch refills at any step; mini-batches at epoch boundaries, each candidate
/// gathering its own epoch's shuffle (`mlp_gather_slots` into per-candidate batch buffers; the fused and
/// per-layer kernels read the first layer's input and the labels with a candidate stride), or all at once
/// into the shared batch where every candidate is at the same epoch.
///
/// Activations: compiled, every streamed expression must be in the pool's vocabulary (`PopulationTrainer.vocabulary`
/// by default: à la carte's menu), so no program is built after the first; interpreted, the program is the
/// interpreter's (built once for every population) and each entering candidate's tapes are written into its
/// slot's own tape regions (`InterpretedActivations.place`), so any expression the interpreter runs enters
/// without a build. Evolution's fitness batches (`Study2TrainingBackend`) stream a generation through a pool.
///
/// Under the CPU profile the launches' work-groups do not depend on their candidate count
/// (`PopulationState.fixedWorkGroups`), so PoCL compiles each kernel once however the launches narrow.
public final class PopulationPool {
    public let trainer: PopulationTrainer
    public let spec: MLPSpec
    public let config: TrainingConfig
    public let slots: Int
    /// How the activations run: compiled (from `vocabulary`) or interpreted (tapes per slot).
    public let execution: ActivationExecution
    /// Compiled: the expressions the program holds, the only ones a streamed candidate may use.
    public let vocabulary: [ActivationExpr]
    /// Download each leaving candidate's weights into its result.
    public var keepWeights = false
    private let train: LabeledData, validation: LabeledData?, test: LabeledData?

    /// `execution` and `vocabulary` default to the trainer's (`activationExecution`, `vocabulary`).
    public init(trainer: PopulationTrainer, spec: MLPSpec, config: TrainingConfig, train: LabeledData,
                validation: LabeledData? = nil, test: LabeledData? = nil, slots: Int,
                execution: ActivationExecution? = nil, vocabulary: [ActivationExpr]? = nil) throws {
        guard slots >= 1 else { throw TrainerError.invalidConfig("a pool needs at least 1 slot, got \(slots)") }
        try ShuffleTable.check(config: config, rows: train.rowCount)
        let placeholder = Candidate(activations: Array(repeating: .x, count: spec.slotCount))
        try TrainingInputCheck.validate(candidates: [placeholder], spec: spec, config: config,
                                        splits: [("training", train), ("validation", validation), ("test", test)])
        self.trainer = trainer
        self.spec = spec
        self.config = config
        self.slots = slots
        self.execution = execution ?? trainer.activationExecution
        self.vocabulary = vocabulary ?? trainer.vocabulary
        self.train = train
        self.validation = validation
        self.test = test
    }

    /// Trains until `next` returns nil and every slot has emptied. `next` is asked whenever a slot is free
    /// (several times before a step when several are); `finished` gets each candidate as it leaves, before
    /// its slot is reused, in the order they stop (ties: slot order). `boundary` is called before every step's
    /// refill, once the step before has handed out its results, with the number of slots `next` is about to
    /// be asked to fill (0 once it returned nil), and once more before `run` returns: where a caller commits a
    /// step's results together and prepares that many entries at once (`SlotPoolLoop`).
    @discardableResult
    public func run(next: () throws -> PoolEntry?, finished: (PooledResult) throws -> Void,
                    boundary: (Int) throws -> Void = { _ in }) throws -> PoolStatistics {
        let device = trainer.device
        let clock = ContinuousClock.now
        let plan = try self.plan()
        let (profile, gemm, pop, layout) = (plan.profile, plan.gemm, plan.program, plan.layout)
        let program = try device.program(source: pop.source, options: plan.buildOptions, cache: trainer.cache)
        var stats = PoolStatistics(slots: slots)
        stats.compileSeconds = PopulationTrainer.seconds(since: clock)

        // Fewer slots than asked when the device's memory holds fewer networks of this shape.
        let width = try slotsThatFit(upTo: slots, plan: plan)
        stats.slots = width
        let empty = layout.packWeights(LinearInit.weights(widths: spec.widths, seed: 0),
                                       activationParameters: Array(repeating: [], count: spec.slotCount))
        let session = try TrainingSession(
            device: device, profile: profile, gemm: gemm, program: program, layout: layout, popProgram: pop, members: Array(0..<width),
            initial: Array(repeating: empty, count: width), seeds: Array(repeating: 0, count: width),
            optimizer: config.optimizer, rowPass: trainer.rowPass, blockRows: trainer.candidateBlockRows,
            candidateMinimum: trainer.candidatePassMinimum, slotTapes: true)
        session.profiling = trainer.profileKernels
        session.evaluationSkipsStopped = true
        if batchRows < train.rowCount { try session.enableSlotBatches(rows: batchRows) }
        let driver = MLPSlotDriver(session: session, program: pop, spec: spec, config: config)
        try SlotPoolLoop(driver: driver, config: config, train: train, validation: validation, test: test, keepWeights: keepWeights)
            .run(stats: &stats, next: next, finished: finished, boundary: boundary)
        return stats
    }
}

extension PopulationPool {
    /// What this pool launches: the trainer's tuning for the network, the program (its source and build
    /// options) and where a slot's state lives.
    struct Plan {
        let profile: DeviceProfile
        let gemm: GEMMVariant
        let program: PopulationProgram
        let buildOptions: String
        let layout: MLPLayout
    }

    func plan() throws -> Plan {
        let (profile, tile, gemm) = try trainer.tuning(widths: spec.widths)
        let placeholder = Candidate(activations: Array(repeating: .x, count: spec.slotCount))
        let pop = try PopulationProgram(candidates: Array(repeating: placeholder, count: slots), tile: tile,
                                        activationSource: trainer.activationSource, execution: execution,
                                        vocabulary: vocabulary)
        let layout = trainer.layout(spec: spec, tile: tile, kmax: pop.kmax, batch: batchRows, splits: [train, validation, test])
        return Plan(profile: profile, gemm: gemm, program: pop, buildOptions: gemm.buildOptions(after: profile.buildOptions),
                    layout: layout)
    }

    /// How many slots of this network and data the trainer's memory budget and the device's largest allocation
    /// hold, at most `limit` (`PopulationChunking`).
    public func slotsThatFit(upTo limit: Int) throws -> Int { try slotsThatFit(upTo: limit, plan: plan()) }

    func slotsThatFit(upTo limit: Int, plan: Plan) throws -> Int {
        let layout = plan.layout
        // Mini-batches: each slot's own batch and labels besides the layout's buffers.
        let ownBatch = batchRows < train.rowCount
            ? 4 * batchRows.roundedUp(toMultipleOf: layout.tile.rows) * (layout.paddedWidths[0] + 1) : 0
        return min(limit, try trainer.chunkSize(
            bytesPerCandidate: layout.bytesPerCandidate + ownBatch,
            largestBufferBytesPerCandidate: max(layout.largestBufferBytesPerCandidate, ownBatch),
            population: limit, needs: "one candidate needs \(layout.bytesPerCandidate + ownBatch) bytes"))
    }

    /// Rows of a training step: the batch size, or every training row.
    var batchRows: Int { min(config.batchSize ?? train.rowCount, train.rowCount) }
}


/// The MLP half of a slot pool (`SlotPoolDriver`): `TrainingSession`'s launches.
struct MLPSlotDriver: SlotPoolDriver {
    let session: TrainingSession
    let program: PopulationProgram
    let spec: MLPSpec
    let config: TrainingConfig

    func row(for entry: PoolEntry) throws -> PopulationProgram.SlotRow {
        try TrainingInputCheck.validate(candidate: entry.candidate, index: entry.tag, spec: spec)
        guard let row = program.slotRow(for: entry.candidate.activations) else {
            throw TrainerError.invalidCandidate(index: entry.tag, problem: program.outsideMessage(entry.candidate.activations))
        }
        return row
    }

    func fill(slot k: Int, entry: PoolEntry, row: PopulationProgram.SlotRow, step: UInt32) throws {
        let start = entry.candidate.startingPoint(runSeed: config.seed, index: entry.tag) {
            LinearInit.weights(widths: spec.widths, seed: $0)
        }
        try session.fill(slot: k, initial: session.layout.packWeights(start.weights, activationParameters: start.activationParameters),
                         ids: row.ids, counts: row.counts, seed32: start.seed32, entryPass: step)
        try place(slot: k, row: row)
    }

    func place(slot k: Int, row: PopulationProgram.SlotRow) throws {
        try session.interpreter?.place(candidate: k, tapes: row.tapes)
    }

    func prepare(rows: [PopulationProgram.SlotRow?]) throws {
        /// Layers whose slot satisfies `uses` for some occupant.
        func layers(where uses: (PopulationProgram.SlotRow, Int) -> Bool) -> Set<Int> {
            Set((0..<spec.layerCount).filter { l in
                guard let s = spec.slot(ofLayer: l) else { return false }
                return rows.contains { $0.map { uses($0, s) } ?? false }
            })
        }
        session.layerwiseLayers = layers { $0.ids[$1] <= -2 }
        session.interpretedLayers = layers { $0.tapes[$1] != nil }
    }

    func setOrders(_ starts: [Int32]) throws { try session.slotBatches!.orderAt.upload(starts) }

    func trainEpoch(rows n: Int, batch: Int, batches: PoolBatches, entries: [UInt32?], evaluating: String?,
                    step: inout UInt32, stats: inout PoolStatistics) throws {
        if case .perSlot = batches { session.sharesTrainingBatch = false } else { session.sharesTrainingBatch = true }
        for start in stride(from: 0, to: n, by: batch) {
            let stepRows = min(batch, n - start)
            session.slotSteps = entries.map { e in e.map { Int(step &- $0) } ?? 0 }
            switch batches {
            case .shared(_, let first):
                try session.gather(split: "train", start: first + start, rows: stepRows, useOrder: true)
            case .perSlot(let orders):
                try session.gatherSlots(start: start, rows: stepRows, orders: orders)
            case .inOrder:
                // The input batch holds the whole training set unless an evaluation pass gathered other rows.
                if !session.inputHoldsTrainingSet { try session.gather(split: "train", start: 0, rows: n, useOrder: false) }
            }
            try session.trainStep(rows: stepRows, pass: step, step: 0, config: config,
                                  evaluating: start + batch >= n ? evaluating : nil)
            stats.steps += 1
            if session.fused != nil { stats.fusedSteps += 1 }
            step &+= 1
        }
    }
}
