import Foundation

/// The per-candidate bookkeeping of a population's epochs, shared by the MLP and the CNN trainers: the
/// metric history, which candidates diverged or stopped early, and which are frozen (skipped by the
/// kernels from then on).
struct EpochLedger {
    private(set) var histories: [[EpochMetrics]]
    private(set) var diverged: [Bool]
    private(set) var stopped: [Bool]
    private var frozen: [Bool]
    private var stoppers: [EarlyStoppingTracker?]

    init(count: Int, earlyStopping: EarlyStopping?) {
        histories = Array(repeating: [], count: count)
        diverged = Array(repeating: false, count: count)
        stopped = diverged
        frozen = diverged
        stoppers = (0..<count).map { _ in earlyStopping.map(EarlyStoppingTracker.init) }
    }

    var allFrozen: Bool { frozen.allSatisfy { $0 } }

    /// Loss and accuracy from a split's summed loss and hits over `rows`.
    static func metrics(_ m: (lossSum: Double, hits: Double), _ rows: Int) -> SplitMetrics {
        SplitMetrics(loss: m.lossSum / Double(rows), accuracy: m.hits / Double(rows))
    }

    /// Records one epoch of every candidate not yet frozen: `trainSums` holds the training loss sum and hits
    /// per candidate (2 floats each, over `trainRows`), `statuses` the kernels' statuses (2 = diverged).
    /// Returns the statuses to upload: candidates that stop early now become 1.
    mutating func record(epoch: Int, trainSums: [Float], trainRows: Int, statuses: [Int32],
                         validation: (sums: [(lossSum: Double, hits: Double)], rows: Int)?,
                         test: (sums: [(lossSum: Double, hits: Double)], rows: Int)?) -> [Int32] {
        var newStatus = statuses
        for k in histories.indices where !frozen[k] {
            let train = SplitMetrics(loss: Double(trainSums[2 * k]) / Double(trainRows),
                                     accuracy: Double(trainSums[2 * k + 1]) / Double(trainRows))
            var e = EpochMetrics(epoch: epoch, train: train)
            if let validation { e.validation = Self.metrics(validation.sums[k], validation.rows) }
            if let test { e.test = Self.metrics(test.sums[k], test.rows) }
            histories[k].append(e)
            if statuses[k] == 2 {
                diverged[k] = true
                frozen[k] = true
            } else if stoppers[k]?.record(trainAccuracy: train.accuracy) == true {
                stopped[k] = true
                frozen[k] = true
                newStatus[k] = 1
            }
        }
        return newStatus
    }

    func progress(epoch: Int, epochs: Int) -> EpochProgress {
        EpochProgress(epoch: epoch, epochs: epochs, activeCandidates: frozen.filter { !$0 }.count,
                      bestTrainAccuracy: histories.compactMap { $0.last?.train.accuracy }.max() ?? 0,
                      metrics: histories.map { h in h.last.flatMap { $0.epoch == epoch ? $0 : nil } })
    }
}
