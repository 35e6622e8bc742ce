import Foundation

/// The storage's own cost per trial, as a worker pays it, with no training: claim a new trial (the study's
/// row lock, the budget check, the insert), store its score (`finish`), and read what finished since and the
/// numbers of what still runs (the constant liars) in one read (`progress(after:)`), as a worker does. Measured
/// per trial; reported as the median over a window of trials ending at each checkpoint, so that growth with the study's size shows.
public struct StorageBenchmark: Sendable {
    public struct Checkpoint: Sendable, Codable {
        /// Trials in the study when the window ended.
        public var trials: Int
        public var medianMilliseconds: Double
        public var p90Milliseconds: Double
        /// Median milliseconds of each step: reading what finished and what runs, claiming, storing the score.
        public var readMilliseconds: Double
        public var claimMilliseconds: Double
        public var finishMilliseconds: Double
    }

    public struct Result: Sendable, Codable {
        public var storage: String
        public var checkpoints: [Checkpoint]
        public var totalSeconds: Double
    }

    public var trials: Int
    public var window: Int
    public var checkpoints: [Int]

    public init(trials: Int, window: Int = 1_000) {
        self.trials = trials
        let window = min(window, trials)
        self.window = window
        var marks: [Int] = []
        var mark = 1_000
        while mark < trials {
            marks.append(mark)
            mark *= 10
        }
        checkpoints = marks.filter { $0 >= window } + [trials]
    }

    /// Runs on a fresh study of `store` (it must be empty), with `progress` after each checkpoint.
    public func run(store: any StudyStore, storageDescription: String,
                    progress: ((Checkpoint) -> Void)? = nil) throws -> Result {
        let worker = WorkerIdentity.current(device: "bench")
        _ = try store.register(worker, policy: ClaimPolicy())
        let start = DispatchTime.now().uptimeNanoseconds
        var cursor = 0
        var times: [Double] = []
        var steps: [[Double]] = [[], [], []]
        times.reserveCapacity(window)
        var result: [Checkpoint] = []
        for index in 0..<trials {
            let t0 = DispatchTime.now().uptimeNanoseconds
            // as a worker looks before it proposes (AlaCarteStudy+Run's sync): one read of both
            let look = try store.progress(after: cursor)
            cursor = look.finished.cursor
            let t1 = DispatchTime.now().uptimeNanoseconds
            let proposal = TrialRecord(number: 0, group: "bench", parameters: ["layer0": "f\(index % 48)", "layer1": "f\(index / 48 % 48)",
                                                                                 "layer2": "f\(index / 2304)"],
                                       expressions: ["x", "x"], canonicalKey: "k\(index)")
            guard var claimed = try store.claimNew(proposal, worker: worker.id, budget: trials) else { break }
            let t2 = DispatchTime.now().uptimeNanoseconds
            claimed.state = .complete
            claimed.objective = Double(index % 97) / 97
            claimed.metrics = ["validation_accuracy": claimed.objective!]
            claimed.finishedAt = Date()
            guard try store.finish(claimed, worker: worker.id) else { break }
            let t3 = DispatchTime.now().uptimeNanoseconds
            if trials - index <= window || checkpoints.contains(where: { $0 - window <= index && index < $0 }) {
                times.append(Double(t3 - t0) / 1e9)
                steps[0].append(Double(t1 - t0) / 1e9)
                steps[1].append(Double(t2 - t1) / 1e9)
                steps[2].append(Double(t3 - t2) / 1e9)
            }
            if checkpoints.contains(index + 1) {
                let sorted = times.sorted()
                func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] * 1e3 }
                let checkpoint = Checkpoint(trials: index + 1, medianMilliseconds: sorted[sorted.count / 2] * 1e3,
                                            p90Milliseconds: sorted[min(sorted.count - 1, sorted.count * 9 / 10)] * 1e3,
                                            readMilliseconds: median(steps[0]), claimMilliseconds: median(steps[1]),
                                            finishMilliseconds: median(steps[2]))
                steps = [[], [], []]
                result.append(checkpoint)
                progress?(checkpoint)
                times.removeAll(keepingCapacity: true)
            }
        }
        try store.retire(worker: worker.id)
        return Result(storage: storageDescription, checkpoints: result,
                      totalSeconds: Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
    }
}
