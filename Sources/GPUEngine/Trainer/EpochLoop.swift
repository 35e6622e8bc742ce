import Foundation
import Datasets

/// What the epoch loop asks of a chunk of a population on the device: the MLP trainer's `TrainingSession`
/// and the CNN trainer's `CNNSession` implement it over the state they share (`PopulationState`).
protocol PopulationSession: PopulationState {
    associatedtype Weights: NetworkWeights
    /// One optimiser step on rows `start ..< start + rows` of the training split (in the epoch's `order` when
    /// `shuffled`), the metrics of those rows added into `trainMetrics`. `step` counts steps from 0.
    func trainBatch(start: Int, rows: Int, shuffled: Bool, step: Int, config: TrainingConfig) throws
    /// Evaluation-mode loss sums and hits of every candidate on a split.
    func evaluate(split name: String) throws -> [(lossSum: Double, hits: Double)]
    /// A candidate's weights and learnable activation parameters from its slice of `params`.
    func unpack(_ slice: ArraySlice<Float>, parameterCounts: [Int]) -> (weights: Weights, activationParameters: [[Float]])
}

/// The epoch loop of one chunk, for both trainers: the steps of each epoch (full batch, or mini-batches in a
/// shuffled order shared by the chunk), the per-epoch metrics, early stopping and divergence (`EpochLedger`:
/// a frozen candidate's status tells the kernels to skip it), evaluation passes when asked for, then the final
/// evaluation of every split and the results.
enum EpochLoop {
    /// `parameterCounts`: per candidate of the chunk, per slot, its learnable activation parameters.
    static func run<Session: PopulationSession>(
        _ s: Session, parameterCounts: [[Int]], config: TrainingConfig, train: LabeledData, validation: LabeledData?,
        test: LabeledData?, progress: ((EpochProgress) -> Void)?, timing: inout TrainingTiming
    ) throws -> [TrainedCandidate<Session.Weights>] {
        let P = s.count, n = train.rowCount
        var clock = ContinuousClock.now
        try s.upload(split: "train", train)
        if let validation { try s.upload(split: "validation", validation) }
        if let test { try s.upload(split: "test", test) }
        let batch = min(config.batchSize ?? n, n)
        let shuffled = batch < n

        var ledger = EpochLedger(count: P, earlyStopping: config.earlyStopping)
        var step = 0
        var evalSeconds = 0.0
        for epoch in 0..<config.epochs {
            if ledger.allFrozen { break }
            try s.trainMetrics.fill(0)
            if shuffled { s.order = try s.device.buffer(EpochShuffle.order(rows: n, seed: config.seed, epoch: epoch)) }
            for start in stride(from: 0, to: n, by: batch) {
                try s.trainBatch(start: start, rows: min(batch, n - start), shuffled: shuffled, step: step, config: config)
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

        let metrics = EpochLedger.metrics, stride = s.parameterStride
        return (0..<P).map { k in
            let (weights, act) = s.unpack(params[(k * stride)..<((k + 1) * stride)], parameterCounts: parameterCounts[k])
            return TrainedCandidate(history: ledger.histories[k], diverged: ledger.diverged[k], stoppedEarly: ledger.stopped[k],
                                    finalTrain: metrics(finalTrain[k], n),
                                    finalValidation: finalVal.map { metrics($0[k], validation!.rowCount) },
                                    finalTest: finalTest.map { metrics($0[k], test!.rowCount) },
                                    weights: weights, activationParameters: act)
        }
    }
}
