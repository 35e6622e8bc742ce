import Foundation
import Datasets
import Kernels

/// A candidate streamed into a `PopulationPool`; `tag` is the caller's name for it (a trial number), and the
/// candidate's seed defaults to `Candidate.derivedSeed(runSeed: config.seed, index: tag)`.
public struct PoolEntry: Sendable {
    public var tag: Int
    public var candidate: Candidate
    public init(tag: Int, candidate: Candidate) {
        self.tag = tag
        self.candidate = candidate
    }
}

/// A candidate leaving the pool: why it stopped, and its per-epoch history.
public struct PooledResult: Sendable {
    public var tag: Int
    /// One entry per epoch it trained, as `CandidateResult.history`.
    public var history: [EpochMetrics]
    public var diverged: Bool
    public var stoppedEarly: Bool
    /// Final weights and learnable activation parameters, when `PopulationPool.keepWeights`.
    public var weights: LinearStackWeights?
    public var activationParameters: [[Float]]?
}

/// What a pool run did: how full its launches were.
public struct PoolStatistics: Sendable, Equatable, Codable {
    /// Slots the pool ran (the slots asked for, or fewer where device memory holds fewer networks).
    public var slots: Int
    /// Training steps launched (full batch: one per epoch of the pool).
    public var steps = 0
    public var candidatesTrained = 0
    /// Epochs the candidates trained (what the studies' protocol needed).
    public var candidateEpochs = 0
    /// Slot-epochs the launches covered (their width summed over the steps).
    public var slotEpochs = 0
    /// Steps that ran the fused row pass (kernels/mlp_fused.cl) rather than per-layer launches.
    public var fusedSteps = 0
    public var compileSeconds = 0.0
    public var trainSeconds = 0.0
    public var evaluateSeconds = 0.0
    /// Device seconds per kernel, with `PopulationTrainer.profileKernels`.
    public var kernelSeconds: [String: Double] = [:]
    /// candidate-epochs trained / slot-epochs launched.
    public var utilisation: Double { slotEpochs > 0 ? Double(candidateEpochs) / Double(slotEpochs) : 0 }
    public init(slots: Int) { self.slots = slots }
}

/// Continuous population training: `slots` networks of one shape train in the same launches, and the moment
/// one stops (early stopping, divergence or its epoch cap) its result leaves and the slot takes the next
/// candidate at the next step, with fresh weights, zero optimiser state, its own step count (Adam's bias
/// correction) and its own noise keys. A study whose candidates need 11 epochs at the median and 300 at the
/// most no longer waits for each chunk's slowest member (DESIGN.md, "How data flows").
///
/// Exactness: a candidate's result depends only on its seed, never on its slot, its entry step or its
/// neighbours: the same bits as `PopulationTrainer.train` gives it alone (`PopulationPoolTests`).
///
/// Batches: full batch (study 1's protocol) is one step an epoch, so a slot is refilled at any step. With
/// mini-batches every candidate has the same steps an epoch, so the pool steps through its epochs in lockstep
/// and refills slots at epoch boundaries; alone, a candidate's epoch e visits the rows in the run's shuffle of
/// epoch e (`EpochShuffle`, keyed by the run seed and e), so in the pool each candidate gathers its own batch
/// through the shuffle of its own epoch (`mlp_gather_slots` into per-candidate batch buffers; the fused and
/// per-layer kernels read the first layer's input and the labels with a candidate stride). An epoch in which
/// every candidate is at the same epoch of its own (an evolution generation, which enters together) gathers
/// each batch once into the shared batch instead. The shuffles are
/// made and uploaded once each, the first time a candidate reaches that epoch: a table of at most `epochs` ×
/// training rows indices. A pool whose candidates all entered together behaves as a chunk.
///
/// Activations: compiled, every streamed expression must be in the pool's vocabulary (`PopulationTrainer.vocabulary`
/// by default: à la carte's menu), so no program is built after the first; interpreted, the program is the
/// interpreter's (built once for every population) and each entering candidate's tapes are written into its
/// slot's own tape regions (`InterpretedActivations.place`), so any expression the interpreter runs enters
/// without a build. Evolution's fitness batches (`Study2TrainingBackend`) stream a generation through a pool.
///
/// End of a stream: when `next` has nothing more, the remaining candidates move to the lowest slots and the
/// launches shrink to exactly them, so stragglers do not pay for empty slots. Under the CPU profile the
/// launches' work-groups do not depend on their candidate count (`PopulationState.fixedWorkGroups`), so PoCL
/// compiles each kernel once however the launches narrow.
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
        if min(config.batchSize ?? train.rowCount, train.rowCount) < train.rowCount, config.epochs.multipliedReportingOverflow(by: train.rowCount).partialValue > Int(Int32.max) {
            throw TrainerError.invalidConfig(
                "a mini-batch pool keeps one shuffle per epoch: \(config.epochs) epochs of \(train.rowCount) rows are more indices than it addresses (2^31)")
        }
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
    /// its slot is reused, in the order they stop (ties: slot order).
    @discardableResult
    public func run(next: () throws -> PoolEntry?, finished: (PooledResult) throws -> Void) throws -> PoolStatistics {
        var stats = PoolStatistics(slots: slots)
        let device = trainer.device
        var clock = ContinuousClock.now
        let plan = try self.plan()
        let (profile, gemm, pop, layout) = (plan.profile, plan.gemm, plan.program, plan.layout)
        let program = try device.program(source: pop.source, options: plan.buildOptions, cache: trainer.cache)
        stats.compileSeconds = PopulationTrainer.seconds(since: clock)

        let n = train.rowCount
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
        session.evaluationSkipsFrozen = true
        session.fixedWorkGroups = profile.fixesWorkGroups
        let evaluates = config.evaluateEveryEpoch && (validation != nil || test != nil)
        try session.upload(split: "train", train)
        if let validation { try session.upload(split: "validation", validation) }
        if let test { try session.upload(split: "test", test) }

        var occupants = [SlotOccupant?](repeating: nil, count: width)
        var status = [Int32](repeating: 1, count: width)
        var exhausted = false
        // The pool's step counter: a slot's own step (Adam's bias correction, its noise) is `pass − entry`.
        var pass: UInt32 = 0
        let batch = batchRows
        var shuffles = batch < n ? try ShuffleTable(device: device, rows: n, epochs: config.epochs, seed: config.seed) : nil
        if let table = shuffles?.buffer {
            try session.enableSlotBatches(rows: batch)
            session.order = table  // the shared batch's gathers (every candidate at one epoch) read it too
        }
        var evalSeconds = 0.0
        clock = ContinuousClock.now

        /// Fills free slots, lowest first, while `next` has candidates.
        func refill() throws {
            for k in 0..<width where occupants[k] == nil && !exhausted {
                guard let entry = try next() else { exhausted = true; return }
                try TrainingInputCheck.validate(candidate: entry.candidate, index: entry.tag, spec: spec)
                guard let row = pop.slotRow(for: entry.candidate) else {
                    let names = entry.candidate.activations.map(\.description).joined(separator: ", ")
                    throw TrainerError.invalidCandidate(index: entry.tag, problem: pop.tapes != nil
                        ? "an expression the activation interpreter cannot run (learnable parameters, or more than \(ActivationInterpreter.registers) registers): \(names)"
                        : "an expression outside the pool's vocabulary (PopulationTrainer.vocabulary): \(names)")
                }
                let start = entry.candidate.startingPoint(runSeed: config.seed, index: entry.tag) {
                    LinearInit.weights(widths: spec.widths, seed: $0)
                }
                try session.fill(slot: k, initial: layout.packWeights(start.weights, activationParameters: start.activationParameters),
                                 ids: row.ids, counts: row.counts, seed32: start.seed32, entryPass: pass)
                try session.interpreter?.place(candidate: k, tapes: row.tapes)
                occupants[k] = SlotOccupant(tag: entry.tag, entry: pass, row: row,
                                            stopper: config.earlyStopping.map(EarlyStoppingTracker.init))
                status[k] = 0
            }
        }

        /// Moves the last occupants into the lowest free slots and narrows the launches (stream ended).
        func compact() throws {
            var low = 0, high = width - 1
            while true {
                while low < width, occupants[low] != nil { low += 1 }
                while high >= 0, occupants[high] == nil { high -= 1 }
                guard low < high else { break }
                try session.move(slot: high, to: low)
                try session.interpreter?.place(candidate: low, tapes: occupants[high]!.row.tapes)
                (occupants[low], occupants[high]) = (occupants[high], nil)
                (status[low], status[high]) = (status[high], 1)
            }
            session.count = max(1, (occupants.lastIndex { $0 != nil } ?? -1) + 1)
        }

        while true {
            try refill()
            if exhausted { try compact() }
            guard occupants.contains(where: { $0 != nil }) else { break }
            try session.status.upload(status)
            /// Layers whose slot satisfies `uses` for some occupant.
            func layers(where uses: (PopulationProgram.SlotRow, Int) -> Bool) -> Set<Int> {
                Set((0..<spec.layerCount).filter { l in
                    guard let s = spec.slot(ofLayer: l) else { return false }
                    return occupants.prefix(session.count).contains { $0.map { uses($0.row, s) } ?? false }
                })
            }
            session.layerwiseLayers = layers { $0.ids[$1] <= -2 }
            session.interpretedLayers = layers { $0.tapes[$1] != nil }
            // Mini-batches: each candidate's own epoch's shuffle (a free slot's offset is never read: it is
            // frozen), or, where every candidate is at the same epoch (an evolution generation; a study's
            // first epoch), that epoch's batches gathered once into the shared batch.
            var sharedOrder: Int32?
            if let sb = session.slotBatches, shuffles != nil {
                let epochs = Set(occupants.prefix(session.count).compactMap { $0?.history.count })
                if epochs.count == 1 {
                    sharedOrder = try shuffles!.start(epoch: epochs.first!)
                } else {
                    let at = try (0..<session.count).map { k in try occupants[k].map { try shuffles!.start(epoch: $0.history.count) } ?? 0 }
                    try sb.orderAt.upload(at)
                }
                session.sharesTrainingBatch = sharedOrder != nil
            }

            // One epoch: the whole training set in one step (the input batch holds it, unless an evaluation pass
            // gathered other rows into it), or every mini-batch, each candidate's from its own shuffle.
            try session.trainMetrics.fill(0)
            for start in stride(from: 0, to: n, by: batch) {
                let stepRows = min(batch, n - start)
                session.slotSteps = (0..<session.count).map { k in occupants[k].map { Int(pass &- $0.entry) } ?? 0 }
                if let sharedOrder {
                    try session.gather(split: "train", start: Int(sharedOrder) + start, rows: stepRows, useOrder: true)
                } else if let table = shuffles?.buffer {
                    try session.gatherSlots(start: start, rows: stepRows, orders: table)
                } else if !session.inputHoldsTrainingSet {
                    try session.gather(split: "train", start: 0, rows: n, useOrder: false)
                }
                try session.trainStep(rows: stepRows, pass: pass, step: 0, config: config)
                stats.steps += 1
                if session.fused != nil { stats.fusedSteps += 1 }
                pass &+= 1
            }
            let P = session.count
            stats.slotEpochs += P
            let metrics = try session.trainMetrics.download(0..<(2 * P))
            try session.collectProfile()
            let after = try session.status.download(0..<P)

            // A candidate that diverged in this step is frozen on the device; its epoch is still evaluated, as
            // a chunk evaluates every member.
            if evaluates && after.contains(2) { try session.status.upload(status) }
            let evalClock = ContinuousClock.now
            let val = evaluates && validation != nil ? try session.evaluate(split: "validation") : nil
            let tst = evaluates && test != nil ? try session.evaluate(split: "test") : nil
            evalSeconds += PopulationTrainer.seconds(since: evalClock)

            var leaving: [Int] = []
            for k in 0..<P where status[k] == 0 {
                guard var o = occupants[k] else { continue }
                let train = SplitMetrics(loss: Double(metrics[2 * k]) / Double(n), accuracy: Double(metrics[2 * k + 1]) / Double(n))
                var e = EpochMetrics(epoch: o.history.count, train: train)
                if let val, let validation { e.validation = EpochLedger.metrics(val[k], validation.rowCount) }
                if let tst, let test { e.test = EpochLedger.metrics(tst[k], test.rowCount) }
                o.history.append(e)
                stats.candidateEpochs += 1
                if after[k] == 2 {
                    o.diverged = true
                } else if o.stopper?.record(trainAccuracy: train.accuracy) == true {
                    o.stoppedEarly = true
                }
                occupants[k] = o
                if o.diverged || o.stoppedEarly || o.history.count >= config.epochs { leaving.append(k) }
            }
            for k in leaving {
                let o = occupants[k]!
                var result = PooledResult(tag: o.tag, history: o.history, diverged: o.diverged, stoppedEarly: o.stoppedEarly)
                if keepWeights {
                    let ps = layout.parameterStride
                    let (w, act) = session.unpack(try session.params.download(k * ps..<(k + 1) * ps)[...],
                                                  parameterCounts: o.row.counts)
                    result.weights = w
                    result.activationParameters = act
                }
                occupants[k] = nil
                status[k] = 1
                stats.candidatesTrained += 1
                try finished(result)
            }
        }
        try session.collectProfile()
        stats.kernelSeconds = session.kernelSeconds
        stats.trainSeconds = PopulationTrainer.seconds(since: clock) - evalSeconds
        stats.evaluateSeconds = evalSeconds
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

/// The host's record of the candidate in one slot.
private struct SlotOccupant {
    let tag: Int
    /// The pass at which it entered: its own step is `pass − entry`.
    let entry: UInt32
    /// Its activation ids, learnable parameter counts and tapes per slot.
    let row: PopulationProgram.SlotRow
    var stopper: EarlyStoppingTracker?
    var history: [EpochMetrics] = []
    var diverged = false
    var stoppedEarly = false
}

/// The mini-batch shuffles a pool's candidates are at: epoch e's (`EpochShuffle.order`, the run seed) at
/// e · rows in `buffer`, made and uploaded the first time a candidate reaches epoch e.
private struct ShuffleTable {
    let buffer: DeviceBuffer<Int32>
    let rows: Int
    let seed: UInt64
    private var uploaded: Set<Int> = []

    init(device: ComputeDevice, rows: Int, epochs: Int, seed: UInt64) throws {
        buffer = try device.buffer(Int32.self, count: rows * max(epochs, 1))
        self.rows = rows
        self.seed = seed
    }

    /// Where epoch `epoch`'s order starts in `buffer`.
    mutating func start(epoch: Int) throws -> Int32 {
        if uploaded.insert(epoch).inserted {
            try buffer.upload(EpochShuffle.order(rows: rows, seed: seed, epoch: epoch), at: epoch * rows)
        }
        return Int32(epoch * rows)
    }
}
