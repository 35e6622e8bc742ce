import Kernels
import Testing
@testable import Search

/// A separable synthetic objective with a known optimum: each layer's entry contributes a fixed random
/// value; the score is their mean. Regret = optimum − best score found.
struct SeparableObjective {
    let values: [[Double]]
    init(layers: Int, choices: Int, seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        values = (0..<layers).map { _ in (0..<choices).map { _ in Double.random(in: 0..<1, using: &generator) } }
    }
    func callAsFunction(_ point: [Int]) -> Double {
        zip(values, point).map { $0[$1] }.reduce(0, +) / Double(values.count)
    }
    var optimum: Double { values.map { $0.max()! }.reduce(0, +) / Double(values.count) }
}

func syntheticSpace(layers: Int, choices: Int) throws -> AlaCarteSpace {
    try AlaCarteSpace(menu: (0..<choices).map { MenuChoice(name: "f\($0)", expression: .constant(Double($0))) },
                      layers: layers)
}

/// Runs a sampler for `trials` trials in batches, as the study loop does, and returns the regret.
func regret(_ sampler: any AlaCarteSampler, objective: SeparableObjective, space: AlaCarteSpace,
            trials: Int, batch: Int, seed: UInt64) -> Double {
    var generator = SeededGenerator(seed: seed)
    var observations: [Observation] = []
    var seen = Set<[Int]>()
    while observations.count < trials {
        let points = sampler.propose(count: min(batch, trials - observations.count), observations: observations,
                                     excluded: seen, space: space, generator: &generator)
        for point in points {
            seen.insert(point)
            observations.append(Observation(number: observations.count, point: point, objective: objective(point)))
        }
    }
    return objective.optimum - observations.map(\.objective).max()!
}

@Suite struct AlaCarteSamplerTests {
    @Test func tpeReachesLowerRegretThanRandomAveragedOverSeeds() throws {
        let space = try syntheticSpace(layers: 5, choices: 16)
        var tpeTotal = 0.0, randomTotal = 0.0, tpeWins = 0
        let seeds: [UInt64] = Array(1...12)
        for seed in seeds {
            let objective = SeparableObjective(layers: 5, choices: 16, seed: seed &* 7919)
            let t = regret(TPESampler(), objective: objective, space: space, trials: 200, batch: 16, seed: seed)
            let r = regret(RandomSampler(), objective: objective, space: space, trials: 200, batch: 16, seed: seed)
            tpeTotal += t
            randomTotal += r
            if t < r { tpeWins += 1 }
        }
        let tpeMean = tpeTotal / Double(seeds.count), randomMean = randomTotal / Double(seeds.count)
        #expect(tpeMean < 0.6 * randomMean, "TPE mean regret \(tpeMean) vs random \(randomMean)")
        #expect(tpeWins >= 9, "TPE won on \(tpeWins) of \(seeds.count) seeds")
    }

    @Test(arguments: [SamplerKind.random, .tpe])
    func batchProposalsAreDistinctAndAvoidScoredPoints(kind: SamplerKind) throws {
        let space = try syntheticSpace(layers: 3, choices: 5)
        let objective = SeparableObjective(layers: 3, choices: 5, seed: 3)
        var generator = SeededGenerator(seed: 11)
        var observations: [Observation] = []
        var seen = Set<[Int]>()
        // 125 points in all: batches of 40 must exhaust the space without one repeat.
        while observations.count < 125 {
            let points = kind.make().propose(count: 40, observations: observations, excluded: seen, space: space,
                                             generator: &generator)
            #expect(!points.isEmpty)
            #expect(Set(points).count == points.count)
            #expect(seen.isDisjoint(with: points))
            for point in points {
                #expect(point.count == 3 && point.allSatisfy { (0..<5).contains($0) })
                seen.insert(point)
                observations.append(Observation(number: observations.count, point: point, objective: objective(point)))
            }
        }
        #expect(observations.count == 125)
        #expect(kind.make().propose(count: 4, observations: observations, excluded: seen, space: space,
                                    generator: &generator).isEmpty)
    }

    @Test func constantLiarSpreadsABatchThatWouldOtherwiseCollapse() throws {
        // Twenty observations that all say entry 0 is best in every layer: without the liar every draw
        // would pick entry 0 everywhere; with it the batch still covers many entries per layer.
        let space = try syntheticSpace(layers: 2, choices: 10)
        let observations = (0..<20).map { n in
            Observation(number: n, point: n < 3 ? [0, 0] : [1 + n % 9, 1 + (n / 2) % 9], objective: n < 3 ? 1 : 0)
        }
        var generator = SeededGenerator(seed: 5)
        let points = TPESampler().propose(count: 12, observations: observations, excluded: Set(observations.map(\.point)),
                                          space: space, generator: &generator)
        #expect(points.count == 12)
        #expect(Set(points.map { $0[0] }).count >= 3)
        // The first proposal follows the evidence: entry 0 in at least one layer.
        #expect(points[0].contains(0))
    }

    @Test func gammaAndWeightsFollowOptunaDefaults() {
        #expect([1, 9, 10, 11, 100, 240, 250, 251, 1000].map(TPESampler.gamma) == [1, 1, 1, 2, 10, 24, 25, 25, 25])
        #expect(TPESampler.observationWeights(3) == [1, 1, 1])
        let w = TPESampler.observationWeights(30)
        #expect(w.count == 30 && w.suffix(25).allSatisfy { $0 == 1 })
        #expect(abs(w[0] - 1.0 / 30) < 1e-15 && w[4] == 1)
    }

    /// Reference values from Optuna 5.0.0's own estimator (an independent implementation), made with:
    ///
    ///     from optuna.samplers._tpe.parzen_estimator import _ParzenEstimator, _ParzenEstimatorParameters
    ///     from optuna.samplers._tpe.sampler import default_weights
    ///     params = _ParzenEstimatorParameters(prior_weight=1.0, consider_magic_clip=True,
    ///                                         consider_endpoints=False, weights=default_weights, multivariate=False)
    ///     est = _ParzenEstimator({"p": np.array(values, float)}, {"p": CategoricalDistribution(list(range(C)))}, params)
    ///     np.exp(est.log_pdf({"p": np.arange(C, dtype=float)}))
    @Test func parzenEstimatorMatchesOptuna() {
        let tpe = TPESampler()
        let cases: [(values: [Int], choices: Int, expected: [Double])] = [
            ([], 4, [0.25, 0.25, 0.25, 0.25]),
            ([2, 0, 2], 5, [0.24444444444444452, 0.13333333333333333, 0.3555555555555556,
                            0.13333333333333333, 0.13333333333333333]),
            // 40 observations: the oldest 15 are down-weighted by the ramp.
            ((0..<40).map { $0 % 3 != 0 ? ($0 * 7) % 6 : 5 }, 6,
             [0.025592442005815865, 0.1689864340320267, 0.1743966555950924, 0.025592442005815865,
              0.15571520677903652, 0.44971681958221243]),
        ]
        for (values, choices, expected) in cases {
            let pmf = tpe.parzen(values: values, choiceCount: choices)
            #expect(pmf.count == expected.count)
            for (got, want) in zip(pmf, expected) { #expect(abs(got - want) < 1e-12, "\(values): \(pmf) vs \(expected)") }
        }
    }
}
