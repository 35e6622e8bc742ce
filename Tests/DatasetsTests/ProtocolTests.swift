import Foundation
import Testing
@testable import Datasets

private func dataset(rows: Int, classes: Int, features: Int = 3, image: Bool = false, officialTest: Int? = nil) -> Dataset {
    func make(_ n: Int, offset: Int) -> LabeledData {
        var values: [Float] = []
        var labels: [Int32] = []
        for i in 0..<n {
            let r = i + offset
            labels.append(Int32(r % classes))
            values.append(Float(r))  // row id
            for j in 1..<features { values.append(Float((r * 37 + j * 11) % 97) / 97 + Float(j)) }
        }
        return LabeledData(features: values, labels: labels, featureCount: features, classCount: classes,
                           imageShape: image ? [1, 1, features] : nil)
    }
    return Dataset(name: image ? "fashion-mnist" : "toy", source: "memory", data: make(rows, offset: 0),
                   officialTest: officialTest.map { make($0, offset: 1_000_000) },
                   classNames: (0..<classes).map(String.init), featureNames: (0..<features).map { "f\($0)" })
}

/// Row ids (feature 0 before standardisation) recovered from standardised rows.
private func ids(_ data: LabeledData, _ s: Standardization) -> Set<Int> {
    Set((0..<data.rowCount).map { Int((data.features[$0 * data.featureCount] * s.std[0] + s.mean[0]).rounded()) })
}

@Suite struct ProtocolTests {
    @Test func study1SplitsSeventyThirtyThenValidationAndStandardisesOnTrainOnly() throws {
        let source = dataset(rows: 200, classes: 4)
        let replicate = try Study1Protocol().replicate(source.data, seed: 9)
        #expect(replicate.test.rowCount == 60)
        #expect(replicate.validation.rowCount == 28)
        #expect(replicate.train.rowCount == 112)
        #expect(replicate.test.classCounts == [15, 15, 15, 15])
        #expect(replicate.validation.classCounts == [7, 7, 7, 7])
        // The three parts partition the rows.
        let s = replicate.standardization
        let (a, b, c) = (ids(replicate.train, s), ids(replicate.validation, s), ids(replicate.test, s))
        #expect(a.union(b).union(c) == Set(0..<200) && a.count + b.count + c.count == 200)
        // Statistics come from the training part alone: refit on the raw training rows and compare.
        let rawTrain = source.data.rows(a.sorted())
        #expect(Standardization.fit(rawTrain) == s)
        // So the training part has mean ≈ 0 and std ≈ 1 per feature, the test part generally not exactly.
        let refit = Standardization.fit(replicate.train)
        #expect(refit.mean.allSatisfy { abs($0) < 1e-4 } && refit.std.allSatisfy { abs($0 - 1) < 1e-4 })
        #expect(Standardization.fit(replicate.test).mean.contains { abs($0) > 1e-3 })
    }

    @Test func study1ReplicatesAreReproducibleAndDistinct() throws {
        let data = dataset(rows: 90, classes: 3).data
        let first = try Study1Protocol().replicate(data, seed: 1)
        let again = try Study1Protocol().replicate(data, seed: 1)
        let other = try Study1Protocol().replicate(data, seed: 2)
        #expect(first.test == again.test && first.train == again.train && first.validation == again.validation)
        #expect(ids(first.test, first.standardization) != ids(other.test, other.standardization))
        #expect(Fixtures.message { try Study1Protocol(testFraction: 1.2).replicate(data, seed: 1) }?.contains("fractions") == true)
    }

    @Test func study2UsesTheOfficialTestSetAndPublishedConstants() throws {
        let source = dataset(rows: 100, classes: 2, features: 4, image: true, officialTest: 20)
        let split = try Study2Protocol(train1Fraction: 0.5, train2Fraction: 0.2, seed: 3).split(source)
        #expect(split.train2.rowCount == 20)
        #expect(split.train1.rowCount == 50)
        #expect(split.test.rowCount == 20)
        #expect(split.normalization == Standardization(mean: [0.2864], std: [0.3533]))
        #expect(split.test.features == source.officialTest!.features.map { ($0 - 0.2864) / 0.3533 })
        #expect(split.train1.imageShape == [1, 1, 4])
        let (t1, t2) = (ids(split.train1, split.normalization), ids(split.train2, split.normalization))
        #expect(t1.isDisjoint(with: t2) && t1.union(t2).isSubset(of: Set(0..<100)))
        let again = try Study2Protocol(train1Fraction: 0.5, train2Fraction: 0.2, seed: 3).split(source)
        #expect(again.train1 == split.train1 && again.train2 == split.train2)
    }

    @Test func study2WithoutOfficialSplitCarvesATestSetAndFitsTrain1() throws {
        let source = dataset(rows: 140, classes: 2)
        let split = try Study2Protocol(testFraction: 0.25).split(source)
        #expect(split.test.rowCount == 35)
        #expect(split.train1.rowCount + split.train2.rowCount == 105)
        let (t1, t2, te) = (ids(split.train1, split.normalization), ids(split.train2, split.normalization), ids(split.test, split.normalization))
        #expect(t1.union(t2).union(te) == Set(0..<140))
        let rawTrain1 = source.data.rows(t1.sorted())
        #expect(Standardization.fit(rawTrain1) == split.normalization)
        #expect(Fixtures.message { try Study2Protocol(train1Fraction: 0.9, train2Fraction: 0.2).split(source) }?.contains("sum to at most 1") == true)
    }
}
