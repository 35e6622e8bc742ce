import Foundation

/// Tree-structured Parzen estimator for categorical parameters, as Optuna's default `TPESampler` does it
/// (independent sampling, i.e. `multivariate=False`), with batched proposals.
///
/// Per round: finished trials are split by objective into the best `gamma(n) = min(⌈0.1·n⌉, 25)` ("below",
/// density l) and the rest ("above", density g). For each layer independently, each density is a mixture
/// of one kernel per observation plus a uniform prior kernel (prior weight 1): an observation of entry o
/// puts mass (p₀ + [c = o]) / (C·p₀ + 1) on entry c, with p₀ = priorWeight / (n + 1) and C entries. Mixture
/// weights are 1 per observation while a group has fewer than 25, else a linear ramp from 1/n up to 1 over
/// the oldest n − 25 and 1 for the 25 most recent (Optuna's `default_weights`), and `priorWeight` for the
/// prior. 24 entries are drawn from l and the one maximising log l(c) − log g(c) is taken.
///
/// Batches: the population trainer scores P candidates at once, so P points are proposed before any is
/// scored. Like Optuna's `constant_liar`, every point already proposed in the batch joins the "above"
/// group as if it had scored badly, so g grows where the batch already went and the batch spreads out
/// instead of repeating the same argmax. A streaming study proposes one point whenever a slot frees; the
/// points still training come in as `running` and join "above" the same way. A point already scored or proposed is replaced by the best
/// one-layer variation of it among the draws (a scored candidate is never trained again); when no variation
/// is free after a few rounds of fresh draws, a uniform unseen point is used.
public struct TPESampler: AlaCarteSampler {
    public let name = "tpe"
    public var startupTrials: Int
    public var candidateCount: Int
    public var priorWeight: Double

    public init(startupTrials: Int = 10, candidateCount: Int = 24, priorWeight: Double = 1) {
        self.startupTrials = startupTrials
        self.candidateCount = candidateCount
        self.priorWeight = priorWeight
    }

    /// Size of the "good" group for n finished trials (Optuna's `default_gamma`).
    public static func gamma(_ n: Int) -> Int { min(Int((0.1 * Double(n)).rounded(.up)), 25) }

    /// Mixture weights of n observations in trial-number order (Optuna's `default_weights`).
    public static func observationWeights(_ n: Int) -> [Double] {
        guard n >= 25 else { return Array(repeating: 1, count: n) }
        let rampCount = n - 25
        // numpy.linspace(1/n, 1, num=rampCount): endpoints included.
        let ramp = (0..<rampCount).map { i -> Double in
            rampCount == 1 ? 1.0 / Double(n) : 1.0 / Double(n) + (1 - 1.0 / Double(n)) * Double(i) / Double(rampCount - 1)
        }
        return ramp + Array(repeating: 1, count: 25)
    }

    /// The categorical Parzen estimator's probability of each of `choiceCount` entries, for observed
    /// entries `values` given oldest first.
    public func parzen(values: [Int], choiceCount: Int) -> [Double] {
        let n = values.count
        let uniform = 1.0 / Double(choiceCount)
        guard n > 0 else { return Array(repeating: uniform, count: choiceCount) }
        let weights = Self.observationWeights(n)
        let total = weights.reduce(0, +) + priorWeight
        let p0 = priorWeight / Double(n + 1)
        let rowSum = Double(choiceCount) * p0 + 1
        var histogram = [Double](repeating: 0, count: choiceCount)
        for (value, weight) in zip(values, weights) { histogram[value] += weight }
        let observedMass = weights.reduce(0, +)
        return (0..<choiceCount).map { c in
            (observedMass * p0 + histogram[c]) / rowSum / total + (priorWeight / total) * uniform
        }
    }

    public func propose(count: Int, observations: [Observation], running: [[Int]], excluded: Set<[Int]>,
                        space: AlaCarteSpace, generator: inout SeededGenerator) -> [[Int]] {
        guard observations.count >= startupTrials else {
            return RandomSampler().propose(count: count, observations: observations, excluded: excluded,
                                           space: space, generator: &generator)
        }
        // Best first; ties keep the earlier trial (a stable order by number).
        let ranked = observations.sorted { ($0.objective, -$0.number) > ($1.objective, -$1.number) }
        let belowCount = Self.gamma(observations.count)
        let below = ranked.prefix(belowCount).sorted { $0.number < $1.number }
        // Running trials (a streaming study) are constant liars with the worst value: they join "above".
        var above = ranked.dropFirst(belowCount).sorted { $0.number < $1.number }.map(\.point) + running

        let lPMF = (0..<space.layers).map { layer in parzen(values: below.map { $0.point[layer] }, choiceCount: space.choiceCount) }
        let logL = lPMF.map { $0.map(Foundation.log) }
        let lCDF = lPMF.map { pmf -> [Double] in
            var running = 0.0
            return pmf.map { running += $0; return running }
        }

        var taken = excluded
        var points: [[Int]] = []
        for _ in 0..<count {
            let logG = (0..<space.layers).map { layer in
                parzen(values: above.map { $0[layer] }, choiceCount: space.choiceCount).map(Foundation.log)
            }
            var chosen: [Int]?
            for _ in 0..<8 {
                let ranked = (0..<space.layers).map { layer in
                    rankedDraws(cdf: lCDF[layer], logL: logL[layer], logG: logG[layer], generator: &generator)
                }
                chosen = Self.bestUntaken(ranked: ranked, taken: taken)
                if chosen != nil { break }
            }
            if chosen == nil { chosen = RandomSampler.drawUnseen(space: space, taken: taken, generator: &generator) }
            guard let point = chosen else { break }
            taken.insert(point)
            points.append(point)
            above.append(point)  // constant liar: a pending point counts as a bad one
        }
        return points
    }

    /// Draws `candidateCount` entries from l; returns the distinct entries drawn with their
    /// log l − log g, best first (Optuna takes the first of these).
    private func rankedDraws(cdf: [Double], logL: [Double], logG: [Double], generator: inout SeededGenerator)
        -> [(entry: Int, score: Double)]
    {
        var drawn: [Int] = []
        let total = cdf[cdf.count - 1]
        for _ in 0..<candidateCount {
            let u = Double.random(in: 0..<total, using: &generator)
            var lo = 0, hi = cdf.count - 1
            while lo < hi {
                let mid = (lo + hi) / 2
                if cdf[mid] > u { hi = mid } else { lo = mid + 1 }
            }
            if !drawn.contains(lo) { drawn.append(lo) }
        }
        return drawn.map { ($0, logL[$0] - logG[$0]) }.sorted { $0.score > $1.score }
    }

    /// Optuna's point (every layer's best draw) when it is not taken; otherwise the untaken point that
    /// swaps one layer to its runner-up draw with the smallest loss of score. Optuna itself would
    /// propose the taken point again; here a scored candidate must not be trained twice.
    static func bestUntaken(ranked: [[(entry: Int, score: Double)]], taken: Set<[Int]>) -> [Int]? {
        let best = ranked.map { $0[0].entry }
        if !taken.contains(best) { return best }
        var alternatives: [(point: [Int], loss: Double)] = []
        for (layer, draws) in ranked.enumerated() {
            for draw in draws.dropFirst() {
                var point = best
                point[layer] = draw.entry
                alternatives.append((point, draws[0].score - draw.score))
            }
        }
        return alternatives.sorted { $0.loss < $1.loss }.first { !taken.contains($0.point) }?.point
    }
}
