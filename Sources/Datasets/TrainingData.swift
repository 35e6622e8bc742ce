import Foundation

/// `afsearch train`'s data protocol: the official test set when the dataset has one, else a stratified held-out
/// part of its rows, or the user's own test set (then `testFraction` of the rows may still be left out, or none);
/// features standardised with the training rows' statistics (one mean/std for images, per feature for tables).
public struct TrainingData: Sendable {
    public var name: String
    public var train: LabeledData
    public var test: LabeledData
    /// Where the test rows came from, for a person.
    public var testSource: String
    /// What the features were standardised with (mean 0, std 1 when not standardised).
    public var standardization: Standardization

    /// - Parameters:
    ///   - userTest: the user's test set and the name it was given by; nil tests on the official test set or a
    ///     held-out part.
    ///   - testFraction: the held-out fraction; nil means 0.3, or 0 with `userTest`.
    public init(_ dataset: Dataset, userTest: (name: String, dataset: Dataset)? = nil, testFraction: Double? = nil,
                seed: UInt64, standardize: Bool = true) throws {
        var train: LabeledData, test: LabeledData, source: String
        let fraction = testFraction ?? (userTest != nil ? 0 : 0.3)
        let percent = "\(Int((fraction * 100).rounded()))%"
        if let userTest {
            test = try Self.matched(userTest.dataset, to: dataset)
            if fraction > 0 {
                train = dataset.data.stratifiedSplit(heldOutFraction: fraction, seed: seed).kept
                source = "\(userTest.name) (\(test.rowCount) rows; \(percent) of the training rows left out, seed \(seed))"
            } else {
                (train, source) = (dataset.data, userTest.name)
            }
        } else if let official = dataset.officialTest {
            (train, test, source) = (dataset.data, official, "official test set")
        } else {
            guard fraction > 0 else { throw TrainingDataError.noTestSet(dataset: dataset.name) }
            let split = dataset.data.stratifiedSplit(heldOutFraction: fraction, seed: seed)
            (train, test, source) = (split.kept, split.heldOut, "stratified \(percent) held out, seed \(seed)")
        }
        if train.rowCount < 2 || test.rowCount < 1 {
            throw TrainingDataError.tooFewRows(fraction: fraction, dataset: dataset.name, rows: dataset.rowCount,
                                               train: train.rowCount, test: test.rowCount)
        }
        if !standardize {
            standardization = Standardization(mean: [0], std: [1])
        } else {
            standardization = train.imageShape == nil ? Standardization.fit(train) : Standardization.fitScalar(train)
        }
        name = dataset.name
        self.train = standardization.apply(train)
        self.test = standardization.apply(test)
        testSource = source + (standardize ? "" : ", not standardised")
    }

    /// The user's test set with the training set's classes: same feature count, its class names among the
    /// training set's, labels renumbered to the training set's order.
    static func matched(_ test: Dataset, to train: Dataset) throws -> LabeledData {
        guard test.featureCount == train.featureCount else {
            throw TrainingDataError.featureMismatch(test: test.name, testFeatures: test.featureCount,
                                                    train: train.name, trainFeatures: train.featureCount)
        }
        var index: [String: Int32] = [:]
        for (i, name) in train.classNames.enumerated() { index[name] = Int32(i) }
        let data = test.allRows
        let labels = try data.labels.map { label in
            let name = test.classNames[Int(label)]
            guard let mapped = index[name] else {
                throw TrainingDataError.unknownClass(test: test.name, className: name, train: train.name, trainClasses: train.classNames)
            }
            return mapped
        }
        return LabeledData(features: data.features, labels: labels, featureCount: data.featureCount,
                           classCount: train.classCount, imageShape: data.imageShape)
    }
}

/// Why `TrainingData` cannot be made; each message names the option and what was expected.
public enum TrainingDataError: Error, Equatable, CustomStringConvertible {
    /// A held-out fraction of 0 without a test set of the user's (a command-line mistake).
    case noTestSet(dataset: String)
    case tooFewRows(fraction: Double, dataset: String, rows: Int, train: Int, test: Int)
    case featureMismatch(test: String, testFeatures: Int, train: String, trainFeatures: Int)
    case unknownClass(test: String, className: String, train: String, trainClasses: [String])

    public var description: String {
        switch self {
        case let .noTestSet(dataset):
            return "--test-fraction 0 needs --test-dataset; '\(dataset)' has no official test set"
        case let .tooFewRows(fraction, dataset, rows, train, test):
            let text = fraction == fraction.rounded() ? String(Int64(fraction)) : "\(fraction)"
            return "--test-fraction \(text) splits the \(rows) rows of '\(dataset)' into \(train) training and \(test) test rows; "
                + "expected at least 2 training rows and 1 test row"
        case let .featureMismatch(test, testFeatures, train, trainFeatures):
            return "--test-dataset '\(test)' has \(testFeatures) features but '\(train)' has \(trainFeatures); "
                + "expected the same columns (categorical levels included)"
        case let .unknownClass(test, className, train, trainClasses):
            return "--test-dataset '\(test)' has class '\(className)', which '\(train)' does not have "
                + "(its classes: \(trainClasses.joined(separator: ", ")))"
        }
    }
}
