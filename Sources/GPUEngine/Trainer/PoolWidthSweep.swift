import Foundation
import Datasets
import Kernels

/// One pool width the sweep measured.
public struct PoolWidthMeasurement: Codable, Sendable, Equatable {
    /// Slots the pool ran.
    public var width: Int
    /// Candidate-epochs trained per second of training (refills included, program build and uploads not).
    public var candidateEpochsPerSecond: Double
    /// Wall time this width's measurement took, its warm-up included.
    public var seconds: Double
}

/// When the sweep stops doubling, and the width it picks.
///
/// Widths go `start`, 2·`start`, 4·`start`, … for as long as each doubling raises the candidate-epochs per
/// second by at least `minimumGain` (10 %: more than the run-to-run noise of these short measurements, and a
/// doubling that buys less is not worth it: a wider pool waits longer for its stragglers at the end of a
/// study, and TPE proposes against more constant liars). The pick is the last width whose doubling paid. The
/// sweep also stops at the widest pool the device's memory holds (`PopulationPool.slotsThatFit`), at `cap`,
/// and before a doubling that would take the sweep past `budgetSeconds` (a doubling costs about twice the
/// last width's time); the pick is then the widest width measured.
public struct PoolWidthRule: Sendable, Equatable {
    public var start = 8
    public var minimumGain = 0.10
    public var cap = 4096
    public var budgetSeconds = 20.0

    public init(start: Int = 8, minimumGain: Double = 0.10, cap: Int = 4096, budgetSeconds: Double = 20) {
        self.start = start
        self.minimumGain = minimumGain
        self.cap = cap
        self.budgetSeconds = budgetSeconds
    }

    public enum Reason: Sendable, Equatable, CustomStringConvertible {
        /// The doubling after the pick gained this fraction (below `minimumGain`; negative: a loss).
        case smallGain(Double)
        /// The device's memory budget holds no more slots of this network.
        case memory
        case cap
        case timeBudget

        public var description: String {
            switch self {
            case .smallGain(let gain): return String(format: "doubling gained %+.0f %%", gain * 100)
            case .memory: return "widest pool the memory budget holds"
            case .cap: return "the sweep's cap"
            case .timeBudget: return "the sweep's time budget"
            }
        }
    }

    public enum Verdict: Sendable, Equatable {
        case measure(Int)
        case stop(width: Int, reason: Reason)
    }

    /// What to do after `measured` (in the order measured; each one twice as wide as the one before, or the
    /// widest that fits), given that the device holds at most `fit` slots.
    public func verdict(_ measured: [PoolWidthMeasurement], fit: Int) -> Verdict {
        let limit = max(1, min(fit, cap))
        guard var chosen = measured.first else { return .measure(min(max(start, 1), limit)) }
        for next in measured.dropFirst() {
            let gain = next.candidateEpochsPerSecond / max(chosen.candidateEpochsPerSecond, .leastNonzeroMagnitude) - 1
            guard gain >= minimumGain else { return .stop(width: chosen.width, reason: .smallGain(gain)) }
            chosen = next
        }
        if chosen.width >= limit { return .stop(width: chosen.width, reason: fit <= cap ? .memory : .cap) }
        let spent = measured.reduce(0) { $0 + $1.seconds }
        if spent + 2 * chosen.seconds > budgetSeconds { return .stop(width: chosen.width, reason: .timeBudget) }
        return .measure(min(2 * chosen.width, limit))
    }
}

/// What a sweep found: the width, why it stopped there, and every width it measured.
public struct PoolWidthSweepResult: Sendable, Equatable {
    public var width: Int
    public var reason: PoolWidthRule.Reason
    public var measurements: [PoolWidthMeasurement]
}

/// Measures how wide a `PopulationPool` should be on this device for one study's workload: the study's
/// network, its training rows and its menu's program, its optimiser and batch size, a fixed mix of the menu's functions
/// (candidate i takes the menu's entries i·slots, i·slots+1, … in turn). Each width gets a warm-up pool of
/// one step (the program comes from the cache; the driver compiles the kernels for the new launch shapes),
/// then a timed pool that streams waves of `width` candidates of `epochs` epochs each until `minimumSeconds`
/// have passed. `rule` decides the next width and the pick.
///
/// On this project's 2-core CPU under PoCL a sweep of study 1's digits network takes a few seconds; a GPU
/// climbs to thousands of slots in about as long (its steps are short).
public struct PoolWidthSweep: Sendable, Equatable {
    public var rule = PoolWidthRule()
    /// Epochs every candidate of a measurement trains (no early stopping, no evaluation). Each candidate enters
    /// with a refill (fresh weights uploaded, optimiser state cleared), so fewer epochs weigh refills more than
    /// a study does (study 1's trials train 11 epochs at the median).
    public var epochs = 5
    /// Least timed training per width; waves of candidates are streamed until it has passed.
    public var minimumSeconds = 0.2

    public init(rule: PoolWidthRule = PoolWidthRule(), epochs: Int = 5, minimumSeconds: Double = 0.2) {
        self.rule = rule
        self.epochs = epochs
        self.minimumSeconds = minimumSeconds
    }

    /// The parameters as text (part of `PoolWidthCache`'s key: another rule measures again).
    var keyLine: String {
        "sweep: start \(rule.start), gain \(rule.minimumGain), cap \(rule.cap), budget \(rule.budgetSeconds) s, epochs \(epochs), "
            + "least \(minimumSeconds) s\n"
    }

    /// Sweeps widths on `trainer` (its `vocabulary` is the menu) for `spec` trained on `train` with `config`'s
    /// optimiser and learning rate; `progress` gets each width as it is measured.
    public func run(trainer: PopulationTrainer, spec: MLPSpec, config: TrainingConfig, train: LabeledData,
                    progress: (PoolWidthMeasurement) -> Void = { _ in }) throws -> PoolWidthSweepResult {
        var timed = config
        timed.epochs = max(epochs, 1)
        timed.earlyStopping = nil
        timed.evaluateEveryEpoch = false
        var warm = timed
        warm.epochs = 1
        let mix = trainer.vocabulary.isEmpty ? [ActivationExpr.x] : trainer.vocabulary
        func entry(_ tag: Int) -> PoolEntry {
            PoolEntry(tag: tag, candidate: Candidate(activations: (0..<spec.slotCount).map { mix[(tag * spec.slotCount + $0) % mix.count] }))
        }
        let fit = try PopulationPool(trainer: trainer, spec: spec, config: timed, train: train, slots: rule.cap)
            .slotsThatFit(upTo: rule.cap + 1)

        func measure(_ width: Int) throws -> PoolWidthMeasurement {
            let started = ContinuousClock.now
            var handed = 0
            try PopulationPool(trainer: trainer, spec: spec, config: warm, train: train, slots: width).run(next: {
                guard handed < width else { return nil }
                defer { handed += 1 }
                return entry(handed)
            }, finished: { _ in })
            handed = 0
            var clock: ContinuousClock.Instant?
            let stats = try PopulationPool(trainer: trainer, spec: spec, config: timed, train: train, slots: width).run(next: {
                let now = ContinuousClock.now
                if clock == nil { clock = now }
                // Whole waves only, so that no narrowing tail is timed.
                if handed > 0, handed % width == 0, PopulationTrainer.seconds(since: clock!) >= minimumSeconds { return nil }
                defer { handed += 1 }
                return entry(handed)
            }, finished: { _ in })
            return PoolWidthMeasurement(width: stats.slots,
                                        candidateEpochsPerSecond: Double(stats.candidateEpochs) / max(stats.trainSeconds, 1e-9),
                                        seconds: PopulationTrainer.seconds(since: started))
        }

        var measured: [PoolWidthMeasurement] = []
        while true {
            switch rule.verdict(measured, fit: fit) {
            case .stop(let width, let reason):
                return PoolWidthSweepResult(width: width, reason: reason, measurements: measured)
            case .measure(let width):
                let m = try measure(width)
                measured.append(m)
                progress(m)
            }
        }
    }
}
