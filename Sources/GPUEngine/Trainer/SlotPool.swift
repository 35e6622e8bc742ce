import Foundation
import Datasets
import Kernels

/// A candidate streamed into a slot pool (`PopulationPool`, `CNNPool`); `tag` is the caller's name for it (a
/// trial number), and the candidate's seed defaults to `PopulationCandidate.derivedSeed(runSeed: config.seed, index: tag)`.
public struct SlotPoolEntry<Weights: NetworkWeights>: Sendable {
    public var tag: Int
    public var candidate: PopulationCandidate<Weights>
    public init(tag: Int, candidate: PopulationCandidate<Weights>) {
        self.tag = tag
        self.candidate = candidate
    }
}
public typealias PoolEntry = SlotPoolEntry<LinearStackWeights>
public typealias CNNPoolEntry = SlotPoolEntry<CNNWeights>

/// A candidate leaving a slot pool: why it stopped, and its per-epoch history.
public struct SlotPoolResult<Weights: NetworkWeights>: Sendable {
    public var tag: Int
    /// One entry per epoch it trained, as `TrainedCandidate.history`.
    public var history: [EpochMetrics]
    public var diverged: Bool
    public var stoppedEarly: Bool
    /// Final weights and learnable activation parameters, when the pool's `keepWeights`.
    public var weights: Weights?
    public var activationParameters: [[Float]]?
}
public typealias PooledResult = SlotPoolResult<LinearStackWeights>
public typealias CNNPooledResult = SlotPoolResult<CNNWeights>

/// What a pool run did: how full its launches were.
public struct PoolStatistics: Sendable, Equatable, Codable {
    /// Slots the pool ran (the slots asked for, or fewer where device memory holds fewer networks).
    public var slots: Int
    /// Optimiser steps launched (full batch: one per epoch of the pool).
    public var steps = 0
    public var candidatesTrained = 0
    /// Epochs the candidates trained (what the studies' protocol needed).
    public var candidateEpochs = 0
    /// Slot-epochs the launches covered (their width summed over the steps).
    public var slotEpochs = 0
    /// Steps that ran the fused row pass (kernels/mlp_fused.cl) rather than per-layer launches (MLP only).
    public var fusedSteps = 0
    public var compileSeconds = 0.0
    /// Wall seconds of the pool's steps: training and the per-epoch evaluation, which share one wait a step.
    public var trainSeconds = 0.0
    /// Device seconds per kernel, with the trainer's `profileKernels`.
    public var kernelSeconds: [String: Double] = [:]
    /// candidate-epochs trained / slot-epochs launched.
    public var utilisation: Double { slotEpochs > 0 ? Double(candidateEpochs) / Double(slotEpochs) : 0 }
    public init(slots: Int) { self.slots = slots }
}

/// Where an epoch's training batches come from in a slot pool.
enum PoolBatches {
    /// Every training row in order (full batch).
    case inOrder
    /// Every candidate is at the same epoch: its shuffle, starting at `start` in `orders`, gathered once into
    /// the shared batch.
    case shared(orders: DeviceBuffer<Int32>, start: Int)
    /// Each candidate its own epoch's shuffle (`orders` from the session's per-candidate `orderAt`), into its
    /// own batch.
    case perSlot(orders: DeviceBuffer<Int32>)
}

/// The trainer-dependent half of a slot pool (`PopulationPool` for MLPs, `CNNPool`): what a candidate's
/// activation row is, how a slot is filled, how an epoch trains and how weights come back. The other half,
/// `SlotPoolLoop`, streams candidates through the slots the same way for both.
protocol SlotPoolDriver {
    associatedtype Weights: NetworkWeights
    associatedtype Session: PopulationState
    var session: Session { get }
    /// The candidate's activation row in the pool's program; throws `TrainerError.invalidCandidate` (with
    /// `entry.tag`) when it is not a candidate of this network or the program cannot run it.
    func row(for entry: SlotPoolEntry<Weights>) throws -> PopulationProgram.SlotRow
    /// Puts `entry` into slot `k` at pool step `step`: fresh weights, zero optimiser state, its row, its seed.
    func fill(slot k: Int, entry: SlotPoolEntry<Weights>, row: PopulationProgram.SlotRow, step: UInt32) throws
    /// Slot `k`'s candidate moved there (`PopulationState.move`): its tapes follow it.
    func place(slot k: Int, row: PopulationProgram.SlotRow) throws
    /// The launches' per-slot choices for the rows of the slots they cover (nil: an empty slot).
    func prepare(rows: [PopulationProgram.SlotRow?]) throws
    /// Mini-batches: each covered slot's start of its order in the pool's shuffle table (`PoolBatches.perSlot`).
    func setOrders(_ starts: [Int32]) throws
    /// One epoch of every active candidate: `rows` training rows in steps of `batch`, each candidate at its own
    /// step (`step − entries[k]`); advances `step` by the steps run and counts them in `stats`. `evaluating`: the
    /// split `evaluate(split:)` is asked for after the epoch, which the epoch's last step may run in its own
    /// launch (then `evaluate` only reads its sums).
    func trainEpoch(rows: Int, batch: Int, batches: PoolBatches, entries: [UInt32?], evaluating: String?, step: inout UInt32,
                    stats: inout PoolStatistics) throws
    /// Evaluation-mode loss sums and hits of the covered slots on a split.
    func evaluate(split: String) throws -> [(lossSum: Double, hits: Double)]
    /// Slot `k`'s weights and learnable activation parameters.
    func unpack(slot k: Int, counts: [Int]) throws -> (weights: Weights, activationParameters: [[Float]])
}

extension SlotPoolDriver where Session: PopulationSession, Session.Weights == Weights {
    func evaluate(split: String) throws -> [(lossSum: Double, hits: Double)] { try session.evaluate(split: split) }

    func unpack(slot k: Int, counts: [Int]) throws -> (weights: Weights, activationParameters: [[Float]]) {
        let ps = session.parameterStride
        return session.unpack(try session.params.download(k * ps..<(k + 1) * ps)[...], parameterCounts: counts)
    }
}

/// Continuous population training, whatever the network: `width` slots train in the same launches, and the
/// moment one stops (early stopping, divergence or its epoch cap) its result leaves and the slot takes the
/// next candidate at the next step, with fresh weights, zero optimiser state, its own step count (Adam's bias
/// correction) and its own noise keys (`seeds`' entry pass: the kernels key noise by pass − entry). A
/// candidate's result depends only on its seed, never on its slot, its entry step or its neighbours.
///
/// Batches: full batch is one step an epoch, so a slot is refilled at any step. With mini-batches every
/// candidate has the same steps an epoch, so the pool steps through epochs in lockstep and refills slots at
/// epoch boundaries; alone, a candidate's epoch e visits the rows in the run's shuffle of epoch e
/// (`EpochShuffle`, keyed by the run seed and e), so in the pool each candidate gathers its own batch through
/// the shuffle of its own epoch, or, where every candidate is at the same epoch (an evolution generation, a
/// study's first epoch), that epoch's batches are gathered once into the shared batch. The shuffles are made
/// and uploaded once each, the first time a candidate reaches that epoch: a table of at most `epochs` ×
/// training rows indices.
///
/// Before each step's refill the caller's `boundary` hears how many slots `next` is about to fill, after
/// the step before has handed out its results: a search commits those together (one store transaction a
/// step, not one a trial) and claims that many trials at once.
///
/// End of a stream: when `next` has nothing more, the remaining candidates move to the lowest slots and the
/// launches shrink to exactly them, so stragglers do not pay for empty slots.
struct SlotPoolLoop<Driver: SlotPoolDriver> {
    let driver: Driver
    let config: TrainingConfig
    let train: LabeledData, validation: LabeledData?, test: LabeledData?
    let keepWeights: Bool

    /// Trains until `next` returns nil and every slot has emptied (see `PopulationPool.run`). `stats` has the
    /// pool's width and its compile time; the rest is counted here.
    func run(stats: inout PoolStatistics, next: () throws -> SlotPoolEntry<Driver.Weights>?,
             finished: (SlotPoolResult<Driver.Weights>) throws -> Void, boundary: (Int) throws -> Void) throws {
        let session = driver.session, width = session.capacity
        let clock = ContinuousClock.now
        let evaluates = config.evaluateEveryEpoch && (validation != nil || test != nil)
        try session.upload(split: "train", train)
        if let validation { try session.upload(split: "validation", validation) }
        if let test { try session.upload(split: "test", test) }

        let n = train.rowCount, batch = min(config.batchSize ?? n, n)
        var occupants = [SlotOccupant?](repeating: nil, count: width)
        var status = [Int32](repeating: 1, count: width)
        var exhausted = false
        // The pool's step counter: a slot's own step (Adam's bias correction, its noise) is `step − entry`.
        var step: UInt32 = 0
        var shuffles = batch < n ? try ShuffleTable(device: session.device, rows: n, epochs: config.epochs, seed: config.seed) : nil
        session.order = shuffles?.buffer  // the shared batch's gathers (every candidate at one epoch) read it

        /// Fills free slots, lowest first, while `next` has candidates.
        func refill() throws {
            for k in 0..<width where occupants[k] == nil && !exhausted {
                guard let entry = try next() else { exhausted = true; return }
                let row = try driver.row(for: entry)
                try driver.fill(slot: k, entry: entry, row: row, step: step)
                occupants[k] = SlotOccupant(tag: entry.tag, entry: step, row: row,
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
                try driver.place(slot: low, row: occupants[high]!.row)
                (occupants[low], occupants[high]) = (occupants[high], nil)
                (status[low], status[high]) = (status[high], 1)
            }
            session.count = max(1, (occupants.lastIndex { $0 != nil } ?? -1) + 1)
        }

        while true {
            try boundary(exhausted ? 0 : occupants.count { $0 == nil })
            try refill()
            if exhausted { try compact() }
            guard occupants.contains(where: { $0 != nil }) else { break }
            let P = session.count
            try session.status.upload(status)
            try driver.prepare(rows: occupants.prefix(P).map { $0?.row })
            var batches = PoolBatches.inOrder
            if shuffles != nil {
                let epochs = Set(occupants.prefix(P).compactMap { $0?.history.count })
                if epochs.count == 1 {
                    batches = .shared(orders: shuffles!.buffer, start: Int(try shuffles!.start(epoch: epochs.first!)))
                } else {
                    // A free slot's start is never read: it is frozen.
                    try driver.setOrders(try (0..<P).map { k in try occupants[k].map { try shuffles!.start(epoch: $0.history.count) } ?? 0 })
                    batches = .perSlot(orders: shuffles!.buffer)
                }
            }
            try session.trainMetrics.fill(0)
            try driver.trainEpoch(rows: n, batch: batch, batches: batches, entries: occupants.prefix(P).map { $0?.entry },
                                  evaluating: evaluates && validation != nil ? "validation" : nil, step: &step, stats: &stats)
            stats.slotEpochs += P
            // The epoch's evaluation follows in the same queue before anything is read back: one wait a step.
            // A candidate that diverged in this epoch is frozen on the device (status 2); the evaluation passes
            // skip only the stopped slots (`skipFrozen`), so its epoch is still evaluated, as a chunk evaluates
            // every member.
            let val = evaluates && validation != nil ? try driver.evaluate(split: "validation") : nil
            let tst = evaluates && test != nil ? try driver.evaluate(split: "test") : nil
            let metrics = try session.trainMetrics.download(0..<(2 * P))
            let after = try session.status.download(0..<P)
            try session.collectProfile()

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
                var result = SlotPoolResult<Driver.Weights>(tag: o.tag, history: o.history, diverged: o.diverged,
                                                            stoppedEarly: o.stoppedEarly)
                if keepWeights { (result.weights, result.activationParameters) = try driver.unpack(slot: k, counts: o.row.counts) }
                occupants[k] = nil
                status[k] = 1
                stats.candidatesTrained += 1
                try finished(result)
            }
        }
        try session.collectProfile()
        stats.kernelSeconds = session.kernelSeconds
        stats.trainSeconds = PopulationTrainer.seconds(since: clock)
    }
}

/// The host's record of the candidate in one slot.
private struct SlotOccupant {
    let tag: Int
    /// The step at which it entered: its own step is `step − entry`.
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
struct ShuffleTable {
    let buffer: DeviceBuffer<Int32>
    let rows: Int
    let seed: UInt64
    private var uploaded: Set<Int> = []

    /// A mini-batch pool's table addresses `epochs` × rows indices with 32-bit offsets (checked when the pool is made).
    static func check(config: TrainingConfig, rows: Int) throws {
        if min(config.batchSize ?? rows, rows) < rows, config.epochs.multipliedReportingOverflow(by: rows).partialValue > Int(Int32.max) {
            throw TrainerError.invalidConfig(
                "a mini-batch pool keeps one shuffle per epoch: \(config.epochs) epochs of \(rows) rows are more indices than it addresses (2^31)")
        }
    }

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
