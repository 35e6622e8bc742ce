import Datasets
import Kernels

extension PopulationTrainer {
    /// Trains a fixed population (an evolution generation) through a slot pool (`PopulationPool`) `slots` wide
    /// (default: the whole population; narrower where device memory holds fewer networks, and then a slot
    /// freed by a diverged candidate takes the next one at once instead of waiting for its chunk). Candidate
    /// `i` is the pool's tag `i`, so its seed and its bits are those `train` gives it.
    ///
    /// The activations run as `train` would run this population: interpreted where the trainer interprets and
    /// the interpreter runs every expression (tapes written per slot, the interpreter's program built once),
    /// else compiled from `vocabulary` (compiled execution) and then the population's own expressions in order
    /// of appearance, which is the program `train` builds.
    /// Returns every candidate's result in the order given, and what the pool did.
    public func trainPooled(candidates: [Candidate], spec: MLPSpec, config: TrainingConfig, train: LabeledData,
                            validation: LabeledData? = nil, test: LabeledData? = nil, slots: Int? = nil,
                            keepWeights: Bool = false) throws -> (results: [PooledResult], statistics: PoolStatistics) {
        guard !candidates.isEmpty else { return ([], PoolStatistics(slots: 0)) }
        let interpreted = activationExecution == .interpreted && PopulationProgram.interprets(candidates)
        var words = activationExecution == .interpreted ? [] : vocabulary
        if !interpreted {
            var seen = Set(words)
            for e in candidates.flatMap(\.activations) where seen.insert(e).inserted { words.append(e) }
        }
        let pool = try PopulationPool(trainer: self, spec: spec, config: config, train: train, validation: validation,
                                      test: test, slots: max(1, slots ?? candidates.count),
                                      execution: interpreted ? .interpreted : .compiled, vocabulary: words)
        pool.keepWeights = keepWeights
        var results = [PooledResult?](repeating: nil, count: candidates.count)
        var next = 0
        let statistics = try pool.run(next: {
            guard next < candidates.count else { return nil }
            defer { next += 1 }
            return PoolEntry(tag: next, candidate: candidates[next])
        }, finished: { results[$0.tag] = $0 })
        return (results.map { $0! }, statistics)
    }
}
