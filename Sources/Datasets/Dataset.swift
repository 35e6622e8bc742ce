import Foundation

/// A loaded classification dataset: the rows as the trainers take them plus what a person needs to read
/// results (class and feature names) and what the loader noticed (warnings, e.g. constant features).
public struct Dataset: Sendable {
    /// Registry name (`keel/wine`) or the file name for a path.
    public var name: String
    /// Where it came from (a file path, or a folder for multi-file sets).
    public var source: String
    /// Every row; for a source with an official split (Fashion-MNIST), the official training set.
    public var data: LabeledData
    /// The official test set, when the source has one.
    public var officialTest: LabeledData?
    public var classNames: [String]
    /// One per encoded feature column; a one-hot column is named `attribute=level`.
    public var featureNames: [String]
    /// Per original attribute: numeric, or categorical with its levels (empty for image sets).
    public var columnKinds: [ColumnKind]
    /// Things a person should know but that do not stop loading (constant features, …). The library never
    /// prints them; the CLI does.
    public var warnings: [String]

    public init(name: String, source: String, data: LabeledData, officialTest: LabeledData? = nil,
                classNames: [String], featureNames: [String], columnKinds: [ColumnKind] = [], warnings: [String] = []) {
        self.name = name
        self.source = source
        self.data = data
        self.officialTest = officialTest
        self.classNames = classNames
        self.featureNames = featureNames
        self.columnKinds = columnKinds
        self.warnings = warnings
    }

    init(name: String, source: String, encoded: EncodedTable) {
        self.init(name: name, source: source, data: encoded.data, classNames: encoded.classNames,
                  featureNames: encoded.featureNames, columnKinds: encoded.columnKinds, warnings: encoded.warnings)
    }

    /// (channels, height, width) for image sets, nil for tabular ones.
    public var imageShape: [Int]? { data.imageShape }
    /// Rows in `data` plus the official test set.
    public var rowCount: Int { data.rowCount + (officialTest?.rowCount ?? 0) }
    public var featureCount: Int { data.featureCount }
    public var classCount: Int { classNames.count }
    public var hasCategoricalFeatures: Bool {
        columnKinds.contains { if case .categorical = $0 { return true } else { return false } }
    }

    /// A dataset a network can learn from: at least one feature, at least two classes, at least two rows.
    public func checkTrainable() throws {
        if featureCount < 1 {
            throw DatasetError.invalidArgument(
                "dataset '\(name)' has no feature columns (only the label); expected at least one feature column and a label column")
        }
        if classCount < 2 {
            throw DatasetError.invalidArgument("dataset '\(name)' has \(classCount) class\(classCount == 1 ? "" : "es") "
                                               + "(label '\(classNames.first ?? "")'); expected at least two classes in the label column")
        }
        if rowCount < 2 {
            throw DatasetError.invalidArgument("dataset '\(name)' has \(rowCount) row\(rowCount == 1 ? "" : "s"); expected at least two")
        }
    }

    /// Every row, the official test set appended after the training rows.
    public var allRows: LabeledData {
        guard let test = officialTest else { return data }
        return data.appending(test)
    }
}
