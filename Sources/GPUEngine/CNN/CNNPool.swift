import Foundation
import Datasets
import Kernels

/// Continuous population training of CNNs: the MLP's `PopulationPool` (one loop, `SlotPoolLoop`) over
/// `CNNSession`'s launches. `slots` CNNs of one architecture train in the same launches; the moment one stops
/// its slot takes the next candidate at the next optimiser step, with fresh weights, zero optimiser state, its
/// own step count and its own dropout keys (the kernels key a micro-batch's masks by the candidate's own step,
/// `DropoutMask.pass(step, micro)` less its entry pass). A candidate's result is the bits
/// `PopulationCNNTrainer.train` gives it alone, whatever its slot, entry step or neighbours (`CNNPoolTests`).
///
/// Batches: the CNN trains in mini-batches (full batch too: one step of many micro-batches), so slots refill
/// at epoch boundaries. Where the pool's candidates are at different epochs each gathers its own batch through
/// its own epoch's shuffle (`cnn_gather_slots` into per-candidate input batches, which the first layer, its
/// weight gradient, an input dropout and the loss's labels read with a candidate stride); where all are at
/// one epoch (an evolution generation), the shared batch, gathered once.
///
/// Activations: compiled from `vocabulary` (no build after the first) or interpreted (each entering
/// candidate's tapes written into its slot's regions). The slots with learnable parameters, layer-wise
/// functions or interpreted expressions are recomputed from the occupants every epoch.
public final class CNNPool {
    public let trainer: PopulationCNNTrainer
    public let architecture: NetworkArchitecture
    /// [C, H, W] of the input images.
    public let inputShape: [Int]
    public let config: TrainingConfig
    public let slots: Int
    /// How the activations run: compiled (from `vocabulary`) or interpreted (tapes per slot).
    public let execution: ActivationExecution
    /// Compiled: the expressions the program holds, the only ones a streamed candidate may use.
    public let vocabulary: [ActivationExpr]
    /// Download each leaving candidate's weights into its result.
    public var keepWeights = false
    private let train: LabeledData, validation: LabeledData?, test: LabeledData?

    /// `inputShape` defaults to the training split's `imageShape`; `execution` to the trainer's.
    public init(trainer: PopulationCNNTrainer, architecture: NetworkArchitecture, inputShape: [Int]? = nil, config: TrainingConfig,
                train: LabeledData, validation: LabeledData? = nil, test: LabeledData? = nil, slots: Int,
                execution: ActivationExecution? = nil, vocabulary: [ActivationExpr]) throws {
        guard slots >= 1 else { throw TrainerError.invalidConfig("a pool needs at least 1 slot, got \(slots)") }
        guard let shape = inputShape ?? train.imageShape else {
            throw TrainerError.invalidData(split: "training", problem: "has no image shape; pass inputShape [channels, height, width]")
        }
        try ShuffleTable.check(config: config, rows: train.rowCount)
        try trainer.validate(candidates: [CNNCandidate(activations: Array(repeating: .x, count: architecture.slotCount))],
                             architecture: architecture, shape: shape, config: config,
                             splits: [("training", train), ("validation", validation), ("test", test)])
        self.trainer = trainer
        self.architecture = architecture
        self.inputShape = shape
        self.config = config
        self.slots = slots
        self.execution = execution ?? trainer.activationExecution
        self.vocabulary = vocabulary
        self.train = train
        self.validation = validation
        self.test = test
    }

    /// Trains until `next` returns nil and every slot has emptied; `finished` gets each candidate as it leaves
    /// (as `PopulationPool.run`, `boundary` too).
    @discardableResult
    public func run(next: () throws -> CNNPoolEntry?, finished: (CNNPooledResult) throws -> Void,
                    boundary: (Int) throws -> Void = { _ in }) throws -> PoolStatistics {
        let device = trainer.device
        let clock = ContinuousClock.now
        let plan = try self.plan()
        let program = try device.program(source: plan.program.source + "\n" + PopulationCNNTrainer.layerKernels,
                                         options: plan.gemm.buildOptions(after: plan.profile.buildOptions), cache: trainer.cache)
        var stats = PoolStatistics(slots: slots)
        stats.compileSeconds = PopulationTrainer.seconds(since: clock)

        let width = try slotsThatFit(upTo: slots, plan: plan)
        stats.slots = width
        let layout = plan.layout, slotCount = architecture.slotCount
        let empty = layout.pack(try CNNWeights.initial(architecture: architecture, inputShape: inputShape, seed: 0),
                                activationParameters: Array(repeating: [], count: slotCount))
        let session = try CNNSession(
            device: device, profile: plan.profile, gemm: plan.gemm, program: program, plan: layout,
            activationIDs: Array(repeating: Array(repeating: -1, count: slotCount), count: width),
            parameterCounts: Array(repeating: Array(repeating: 0, count: slotCount), count: width),
            initial: Array(repeating: empty, count: width), seeds: Array(repeating: 0, count: width), optimizer: config.optimizer,
            needsAccumulation: batchImages > layout.capacityImages, tapes: plan.program.tapes, pool: true,
            slotBatches: ownBatches)
        session.profiling = trainer.profileKernels
        session.evaluationSkipsStopped = true
        let driver = CNNSlotDriver(session: session, program: plan.program, trainer: trainer, architecture: architecture,
                                   shape: inputShape, config: config)
        try SlotPoolLoop(driver: driver, config: config, train: train, validation: validation, test: test, keepWeights: keepWeights)
            .run(stats: &stats, next: next, finished: finished, boundary: boundary)
        return stats
    }

    /// How many slots of this architecture and micro-batch the trainer's memory budget and the device's largest
    /// allocation hold, at most `limit`.
    public func slotsThatFit(upTo limit: Int) throws -> Int { try slotsThatFit(upTo: limit, plan: plan()) }

    /// What this pool launches: the trainer's tuning, the program and the CNN's buffer plan.
    struct Plan {
        let profile: DeviceProfile
        let gemm: GEMMVariant
        let program: PopulationProgram
        let layout: CNNPlan
    }

    func plan() throws -> Plan {
        let (profile, tile, gemm) = try trainer.checkedTuning(inputChannels: inputShape[0], architecture: architecture)
        let placeholder = Candidate(activations: Array(repeating: .x, count: architecture.slotCount))
        let pop = try PopulationProgram(candidates: [placeholder], tile: tile, activationSource: trainer.activationSource,
                                        execution: execution, vocabulary: vocabulary)
        let layout = try CNNPlan(architecture: architecture, inputShape: inputShape, tile: tile,
                                 capacityImages: min(batchImages, max(1, trainer.microBatchImages)), kmax: pop.kmax)
        return Plan(profile: profile, gemm: gemm, program: pop, layout: layout)
    }

    func slotsThatFit(upTo limit: Int, plan: Plan) throws -> Int {
        // Mini-batches: each slot's own input batch, labels and order start besides the chunk's buffers.
        let layout = plan.layout
        return try trainer.chunkSize(plan: layout, population: limit,
                                     ownBatchBytes: ownBatches ? 4 * (layout.tensorFloats(0) + layout.capacityImages + 1) : 0)
    }

    /// Images of an optimiser step: the batch size, or every training image.
    var batchImages: Int { min(config.batchSize ?? train.rowCount, train.rowCount) }
    /// Mini-batches: candidates at different epochs read their own batches (full batch: all read the same).
    var ownBatches: Bool { batchImages < train.rowCount }
}

/// The CNN half of a slot pool (`SlotPoolDriver`): `CNNSession`'s launches.
struct CNNSlotDriver: SlotPoolDriver {
    let session: CNNSession
    let program: PopulationProgram
    let trainer: PopulationCNNTrainer
    let architecture: NetworkArchitecture
    let shape: [Int]
    let config: TrainingConfig

    func row(for entry: CNNPoolEntry) throws -> PopulationProgram.SlotRow {
        try trainer.validate(candidate: entry.candidate, index: entry.tag, architecture: architecture, shape: shape)
        guard let row = program.slotRow(for: entry.candidate.activations) else {
            throw TrainerError.invalidCandidate(index: entry.tag, problem: program.outsideMessage(entry.candidate.activations))
        }
        return row
    }

    func fill(slot k: Int, entry: CNNPoolEntry, row: PopulationProgram.SlotRow, step: UInt32) throws {
        let start = try entry.candidate.startingPoint(runSeed: config.seed, index: entry.tag) {
            try CNNWeights.initial(architecture: architecture, inputShape: shape, seed: $0)
        }
        try session.fill(slot: k, initial: session.plan.pack(start.weights, activationParameters: start.activationParameters),
                         ids: row.ids, counts: row.counts, seed32: start.seed32,
                         entryPass: DropoutMask.pass(step: Int(step), micro: 0))
        try place(slot: k, row: row)
    }

    func place(slot k: Int, row: PopulationProgram.SlotRow) throws {
        try session.interpreter?.place(candidate: k, tapes: row.tapes)
    }

    func prepare(rows: [PopulationProgram.SlotRow?]) throws {
        let live = rows.compactMap { $0 }
        try session.setActivationRows(ids: live.map(\.ids), counts: live.map(\.counts),
                                      interpreted: Set((0..<architecture.slotCount).filter { s in live.contains { $0.tapes[s] != nil } }))
    }

    func setOrders(_ starts: [Int32]) throws { try session.slotBatches!.orderAt.upload(starts) }

    /// The evaluation always runs in `evaluate(split:)`'s own launches (`evaluating` is not used).
    func trainEpoch(rows n: Int, batch: Int, batches: PoolBatches, entries: [UInt32?], evaluating: String?,
                    step: inout UInt32, stats: inout PoolStatistics) throws {
        // Evaluation passes read the shared batch.
        if case .perSlot = batches { session.readsSlotBatches = true }
        defer { session.readsSlotBatches = false }
        for start in stride(from: 0, to: n, by: batch) {
            let rows = min(batch, n - start)
            session.slotSteps = entries.map { e in e.map { Int(step &- $0) } ?? 0 }
            try session.trainStep(rows: rows, step: Int(step), config: config) { first, images in
                switch batches {
                case .shared(_, let epochStart):
                    try session.gather(split: "train", start: epochStart + start + first, images: images, useOrder: true)
                case .perSlot(let orders):
                    try session.gatherSlots(start: start + first, images: images, orders: orders)
                case .inOrder:
                    try session.gather(split: "train", start: start + first, images: images, useOrder: false)
                }
            }
            stats.steps += 1
            step &+= 1
        }
    }
}
