import Foundation
import Testing
@testable import Datasets

/// `afsearch train`'s data protocol on the tiny KEEL fixture (6 rows, 5 encoded features, classes no/yes).
@Suite struct TrainingDataTests {
    let tiny: Dataset

    init() throws { tiny = try DatasetRegistry.load(Fixtures.path("tiny-keel.dat")) }

    @Test func holdsOutAStratifiedPartAndStandardisesWithTheTrainingRows() throws {
        let data = try TrainingData(tiny, seed: 0)
        #expect(data.name == "tiny-keel.dat")
        #expect(data.testSource == "stratified 30% held out, seed 0")
        #expect(data.train.rowCount + data.test.rowCount == 6)
        #expect(data.test.rowCount >= 1 && data.train.rowCount >= 2)
        // Every class in both parts (stratified), and the training rows have mean 0 per feature.
        #expect(Set(data.train.labels) == [0, 1] && Set(data.test.labels) == [0, 1])
        for j in 0..<data.train.featureCount {
            let mean = (0..<data.train.rowCount).map { Double(data.train.features[$0 * data.train.featureCount + j]) }
                .reduce(0, +) / Double(data.train.rowCount)
            #expect(abs(mean) < 1e-5)
        }
        #expect(try TrainingData(tiny, seed: 0).train.features == data.train.features)  // the seed fixes the split
        let raw = try TrainingData(tiny, seed: 0, standardize: false)
        #expect(raw.standardization == Standardization(mean: [0], std: [1]))
        #expect(raw.testSource == "stratified 30% held out, seed 0, not standardised")
    }

    @Test func aUserTestSetIsRenumberedToTheTrainingClasses() throws {
        // The same rows with the class names listed the other way round: labels must come back as the training set's.
        var flipped = tiny
        flipped.classNames = ["yes", "no"]
        flipped.data.labels = tiny.data.labels.map { 1 - $0 }
        let data = try TrainingData(tiny, userTest: ("flipped.dat", flipped), seed: 0, standardize: false)
        #expect(data.testSource == "flipped.dat, not standardised")
        #expect(data.train.rowCount == 6)
        #expect(data.test.labels == tiny.data.labels)
        let leftOut = try TrainingData(tiny, userTest: ("flipped.dat", flipped), testFraction: 0.5, seed: 3)
        #expect(leftOut.train.rowCount == 3)
        #expect(leftOut.testSource == "flipped.dat (6 rows; 50% of the training rows left out, seed 3)")
    }

    @Test func refusesWhatCannotBeTrainedAndTested() throws {
        let weather = try DatasetRegistry.load(Fixtures.path("weather.arff"))
        #expect(throws: TrainingDataError.featureMismatch(test: weather.name, testFeatures: weather.featureCount,
                                                          train: "tiny-keel.dat", trainFeatures: 5)) {
            try TrainingData(tiny, userTest: ("weather.arff", weather), seed: 0)
        }
        var renamed = tiny
        renamed.classNames = ["no", "maybe"]
        let unknown = TrainingDataError.unknownClass(test: "tiny-keel.dat", className: "maybe", train: "tiny-keel.dat", trainClasses: ["no", "yes"])
        #expect(throws: unknown) { try TrainingData(tiny, userTest: ("renamed", renamed), seed: 0) }
        #expect(unknown.description == "--test-dataset 'tiny-keel.dat' has class 'maybe', which 'tiny-keel.dat' does not have (its classes: no, yes)")
        #expect(throws: TrainingDataError.noTestSet(dataset: "tiny-keel.dat")) { try TrainingData(tiny, testFraction: 0, seed: 0) }
        let tooFew = TrainingDataError.tooFewRows(fraction: 0.9, dataset: "tiny-keel.dat", rows: 6, train: 0, test: 6)
        #expect(tooFew.description == "--test-fraction 0.9 splits the 6 rows of 'tiny-keel.dat' into 0 training and 6 test rows; "
                + "expected at least 2 training rows and 1 test row")
        #expect(throws: TrainingDataError.self) { try TrainingData(tiny, testFraction: 0.9, seed: 0) }
    }

    @Test func aTrainableDatasetHasFeaturesTwoClassesAndTwoRows() throws {
        try tiny.checkTrainable()
        var oneClass = tiny
        oneClass.classNames = ["no"]
        #expect(Fixtures.message { try oneClass.checkTrainable() }
                == "dataset 'tiny-keel.dat' has 1 class (label 'no'); expected at least two classes in the label column")
        var noFeatures = tiny
        noFeatures.data = LabeledData(features: [], labels: tiny.data.labels, featureCount: 0, classCount: 2)
        #expect(Fixtures.message { try noFeatures.checkTrainable() }
                == "dataset 'tiny-keel.dat' has no feature columns (only the label); expected at least one feature column and a label column")
        var oneRow = tiny
        oneRow.data = tiny.data.rows([0])
        #expect(Fixtures.message { try oneRow.checkTrainable() } == "dataset 'tiny-keel.dat' has 1 row; expected at least two")
    }
}
