import Foundation
import Testing
@testable import Datasets

/// 3 classes of 50, 30 and 20 rows; feature 0 is the row index so rows can be traced through splits.
private func threeClassData(features: Int = 2) -> LabeledData {
    var labels: [Int32] = []
    var values: [Float] = []
    for i in 0..<100 {
        labels.append(i < 50 ? 0 : (i < 80 ? 1 : 2))
        values.append(Float(i))
        for j in 1..<features { values.append(Float(i % 7) * Float(j) + 100) }
    }
    return LabeledData(features: values, labels: labels, featureCount: features, classCount: 3)
}

@Suite struct SplitTests {
    @Test func splitMix64MatchesTheReferenceSequence() {
        // Values from a Python transcription of Vigna's splitmix64.c.
        var zero = SplitMix64(seed: 0)
        #expect([zero.next(), zero.next(), zero.next()] == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F])
        var answer = SplitMix64(seed: 42)
        #expect(answer.next() == 0xBDD732262FEB6E95)
    }

    @Test func boundedIndicesAreInRangeAndRoughlyUniform() {
        var generator = SplitMix64(seed: 7)
        var counts = [Int](repeating: 0, count: 6)
        for _ in 0..<60_000 { counts[generator.nextIndex(below: 6)] += 1 }
        // Each bucket expects 10,000 with sd ≈ 91; 600 is > 6 sd.
        #expect(counts.allSatisfy { abs($0 - 10_000) < 600 })
    }

    @Test func stratifiedSplitKeepsClassSharesAndIsAPartition() {
        let data = threeClassData()
        let (kept, heldOut) = StratifiedSplit.split(labels: data.labels, classCount: 3, heldOutFraction: 0.3, seed: 11)
        #expect(heldOut.count == 30)
        #expect(Set(kept).union(heldOut) == Set(0..<100))
        #expect(Set(kept).isDisjoint(with: heldOut))
        #expect(data.rows(heldOut).classCounts == [15, 9, 6])
        #expect(data.rows(kept).classCounts == [35, 21, 14])
        // Shuffled, not class-sorted.
        #expect(data.rows(heldOut).labels != data.rows(heldOut).labels.sorted())
    }

    @Test func largestRemainderGivesExactTotals() {
        // 7/5/1 rows, 25% held out: ideal 1.75/1.25/0.25 → total round(3.25)=3 → 1/1/0 plus the largest remainder (class 0).
        let labels: [Int32] = Array(repeating: 0, count: 7) + Array(repeating: 1, count: 5) + [2]
        #expect(StratifiedSplit.allocate(total: 3, labels: labels, classCount: 3) == [2, 1, 0])
        #expect(StratifiedSplit.allocate(total: 13, labels: labels, classCount: 3) == [7, 5, 1])
    }

    @Test func splitsAreReproducibleFromTheSeedAndDifferAcrossSeeds() {
        let data = threeClassData()
        let a = data.stratifiedSplit(heldOutFraction: 0.3, seed: 5)
        let b = data.stratifiedSplit(heldOutFraction: 0.3, seed: 5)
        let c = data.stratifiedSplit(heldOutFraction: 0.3, seed: 6)
        #expect(a.heldOut == b.heldOut && a.kept == b.kept)
        #expect(a.heldOut.features != c.heldOut.features)
    }

    @Test func stratifiedSampleTakesNRowsInProportion() {
        let data = threeClassData()
        let sample = data.stratifiedSample(10, seed: 3)
        #expect(sample.rowCount == 10)
        #expect(sample.classCounts == [5, 3, 2])
        #expect(data.stratifiedSample(1000, seed: 3).rowCount == 100)
        #expect(Set(sample.features.enumerated().filter { $0.offset % 2 == 0 }.map(\.element)).count == 10)
    }

    @Test func standardizationMatchesATwoPassReference() {
        let data = LabeledData(features: [1e6 + 1, 5, 1e6 + 2, 5, 1e6 + 4, 5], labels: [0, 1, 0], featureCount: 2, classCount: 2)
        let fitted = Standardization.fit(data)
        // Two-pass reference in Double: mean 1e6 + 7/3, population variance 14/9.
        #expect(abs(Double(fitted.mean[0]) - (1e6 + 7.0 / 3.0)) < 0.07)
        #expect(abs(Double(fitted.std[0]) - (14.0 / 9.0).squareRoot()) < 1e-4)
        #expect(fitted.mean[1] == 5 && fitted.std[1] == 1)  // constant feature → std 1, maps to 0
        let applied = fitted.apply(data)
        #expect(Fixtures.matrix(applied).map { $0[1] } == [0, 0, 0])
    }
}
