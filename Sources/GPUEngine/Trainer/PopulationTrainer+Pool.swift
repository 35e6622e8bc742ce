import Datasets
import Kernels

extension PopulationTrainer {
    /// Trains a fixed population (an evolution generation) through a slot pool (`PopulationPool`) `slots` wide
    /// (default: the whole population; narrower where device memory holds fewer networks, and then a slot
    /// freed by a diverged candidate takes the next one at once instead of waiting for its chunk). Candidate
    /// `i` is the pool's tag `i`, so its seed and its bits are those `train` gives it.
    ///
    /// The activations run as `train` would run this population (`PopulationProgram.poolExecution`): the same
    /// program, so the program cache hits. Returns every candidate's result in the order given, and what the
    /// pool did.
    public func trainPooled(candidates: [Candidate], spec: MLPSpec, config: TrainingConfig, train: LabeledData,
                            validation: LabeledData? = nil, test: LabeledData? = nil, slots: Int? = nil,
                            keepWeights: Bool = false) throws -> (results: [PooledResult], statistics: PoolStatistics) {
        guard !candidates.isEmpty else { return ([], PoolStatistics(slots: 0)) }
        let (execution, words) = PopulationProgram.poolExecution(for: candidates.map(\.activations), execution: activationExecution,
                                                                 vocabulary: vocabulary)
        let pool = try PopulationPool(trainer: self, spec: spec, config: config, train: train, validation: validation,
                                      test: test, slots: max(1, slots ?? candidates.count), execution: execution, vocabulary: words)
        pool.keepWeights = keepWeights
        return try streamPopulation(candidates) { try pool.run(next: $0, finished: $1) }
    }
}

extension PopulationCNNTrainer {
    /// `PopulationTrainer.trainPooled` for CNNs: a fixed population through a `CNNPool` (the same program and
    /// bits as `train`).
    public func trainPooled(candidates: [CNNCandidate], architecture: NetworkArchitecture, inputShape: [Int]? = nil,
                            config: TrainingConfig, train: LabeledData, validation: LabeledData? = nil, test: LabeledData? = nil,
                            slots: Int? = nil, keepWeights: Bool = false) throws -> (results: [CNNPooledResult], statistics: PoolStatistics) {
        guard !candidates.isEmpty else { return ([], PoolStatistics(slots: 0)) }
        let (execution, words) = PopulationProgram.poolExecution(for: candidates.map(\.activations), execution: activationExecution,
                                                                 vocabulary: [])
        let pool = try CNNPool(trainer: self, architecture: architecture, inputShape: inputShape, config: config, train: train,
                               validation: validation, test: test, slots: max(1, slots ?? candidates.count),
                               execution: execution, vocabulary: words)
        pool.keepWeights = keepWeights
        return try streamPopulation(candidates) { try pool.run(next: $0, finished: $1) }
    }
}

/// Streams a fixed population through a pool's `run`, candidate `i` as tag `i`; the results in the order given.
func streamPopulation<Weights>(
    _ candidates: [PopulationCandidate<Weights>],
    through run: (() throws -> SlotPoolEntry<Weights>?, (SlotPoolResult<Weights>) throws -> Void) throws -> PoolStatistics
) throws -> (results: [SlotPoolResult<Weights>], statistics: PoolStatistics) {
    var results = [SlotPoolResult<Weights>?](repeating: nil, count: candidates.count)
    var next = 0
    let statistics = try run({
        guard next < candidates.count else { return nil }
        defer { next += 1 }
        return SlotPoolEntry(tag: next, candidate: candidates[next])
    }, { results[$0.tag] = $0 })
    return (results.map { $0! }, statistics)
}
