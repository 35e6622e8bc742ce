import Testing
@testable import Search

@Suite struct StatsTests {
    /// SeededGenerator draws its state from Datasets' SplitMix64; these values come from the generator as it was
    /// before (its own copy of SplitMix64), so stored studies' seeds and samples stay what they were.
    @Test func seededGeneratorKeepsItsSequence() {
        for (seed, expected) in [(UInt64(0), [0x99EC_5F36_CB75_F2B4, 0xBF6E_1F78_4956_452A, 0x1A5F_849D_4933_E6E0] as [UInt64]),
                                 (42, [0x1578_0B2E_0C2E_C716, 0x6104_D986_6D11_3A7E, 0xAE17_5332_39E4_99A1])] {
            var generator = SeededGenerator(seed: seed)
            #expect((0..<3).map { _ in generator.next() } == expected)
        }
        #expect(SeededGenerator.derive(7, 3) == 0xD88D_886B_B833_247C)
        #expect(SeededGenerator.derive(0, 1) == 0x3A4B_B927_75CC_364D)
    }

    @Test func medianOfOddAndEvenSamples() {
        #expect(median([3, 1, 2]) == 2)
        #expect(median([4, 1, 3, 2]) == 2.5)
        #expect(median([]) == nil)
    }

    @Test func exactTestByHand() {
        // C(6,3) = 20 labellings; |median difference| ≥ 3 needs medians 2 and 5: {1,2,3}|{4,5,6},
        // {1,2,4}|{3,5,6} and their two mirrors, so p = 4/20.
        let result = PermutationTest().exact([1, 2, 3], [4, 5, 6])
        #expect(result.statistic == 3)
        #expect(result.relabellings == 20)
        #expect(result.pValue == 0.2)
    }

    /// Exact p-values from SciPy 1.x (an independent implementation):
    /// `scipy.stats.permutation_test((a, b), lambda x, y, axis: abs(median(x) − median(y)),
    /// permutation_type='independent', n_resamples=inf, alternative='greater', vectorized=True)`.
    @Test(arguments: [
        ([0.91, 0.88, 0.93, 0.90], [0.85, 0.87, 0.86, 0.89, 0.84], 0.047619047619047616),
        ([0.5, 0.6, 0.7], [0.55, 0.65, 0.75, 0.52], 1.0),
        ([0.8, 0.8, 0.81, 0.79, 0.82, 0.8], [0.7, 0.72, 0.8, 0.69, 0.75, 0.71], 0.06060606060606061),
    ])
    func exactTestMatchesSciPy(a: [Double], b: [Double], expected: Double) {
        let exact = PermutationTest().exact(a, b)
        #expect(abs(exact.pValue - expected) < 1e-12)
        // With 10,000 rounds the approximate test lands within a few Monte-Carlo standard errors.
        let approximate = PermutationTest(rounds: 10_000, seed: 3).approximate(a, b)
        let standardError = (expected * (1 - expected) / 10_000).squareRoot()
        #expect(abs(approximate.pValue - expected) <= 4 * standardError + 2e-4,
                "approximate \(approximate.pValue) vs exact \(expected)")
        #expect(!approximate.exact)
    }

    @Test func testChoosesExactOnlyWhenAllRelabellingsFitTheBudget() {
        let small = PermutationTest(rounds: 10_000).test([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])
        #expect(small.exact && small.relabellings == 252)
        // C(30, 15) ≈ 1.55e8 relabellings: approximate, and clearly significant for separated samples.
        let a = (0..<15).map { 0.80 + Double($0) * 0.001 }, b = (0..<15).map { 0.70 + Double($0) * 0.001 }
        let large = PermutationTest(rounds: 2_000, seed: 1).test(a, b)
        #expect(!large.exact)
        #expect(large.pValue == 1.0 / 2001)
        #expect(large.mark == "**")
    }

    @Test func marks() {
        #expect(significanceMark(0.0009) == "**")
        #expect(significanceMark(0.001) == "*")
        #expect(significanceMark(0.049) == "*")
        #expect(significanceMark(0.05) == "")
        #expect(PermutationTest.binomial(10, 3) == 120)
        #expect(PermutationTest.binomial(100, 50) == nil)
    }
}
