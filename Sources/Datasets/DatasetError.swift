import Foundation

/// Everything that can be wrong with a dataset or a request for one. Each message names the thing
/// (dataset, file, line, column) and what was expected, so the CLI can print it as is and exit non-zero.
public enum DatasetError: Error, Equatable, CustomStringConvertible, LocalizedError {
    /// A registry name whose files are not in the data folder.
    case missingFiles(dataset: String, paths: [String], dataRoot: String)
    /// Neither a registry name nor an existing file.
    case unknownDataset(name: String, suggestions: [String])
    case unreadable(path: String, detail: String)
    /// A row that cannot be read: where and what.
    case malformedRow(path: String, line: Int, detail: String)
    /// A header (ARFF/KEEL `@` lines, IDX magic, CSV header) that cannot be read.
    case malformedHeader(path: String, line: Int, detail: String)
    case corrupt(name: String, detail: String)
    case noRows(path: String)
    case singleClass(path: String, column: String, label: String)
    /// A column holding both numbers and text, e.g. `3.5` on one line and `high` on another.
    case mixedColumn(path: String, column: String, numericExample: String, numericLine: Int,
                     textExample: String, textLine: Int)
    case missingValue(path: String, line: Int, column: String)
    case missingLabel(path: String, line: Int)
    case unknownLabelColumn(path: String, requested: String, available: [String])
    case invalidArgument(String)

    public var description: String {
        switch self {
        case let .missingFiles(dataset, paths, dataRoot):
            return "dataset '\(dataset)' is not present: missing \(paths.joined(separator: ", ")). "
                + "Run `make data` (or `bash scripts/fetch-data.sh`) to fetch it into \(dataRoot), "
                + "or set AFSEARCH_DATA to the folder that holds it."
        case let .unknownDataset(name, suggestions):
            let hint = suggestions.isEmpty ? "" : " Did you mean \(suggestions.map { "'\($0)'" }.joined(separator: ", "))?"
            return "unknown dataset '\(name)': expected a registry name (see `afsearch datasets`) or the path of "
                + "an existing .dat, .arff, .csv, .csv.gz or IDX file.\(hint)"
        case let .unreadable(path, detail):
            return "cannot read \(path): \(detail)"
        case let .malformedRow(path, line, detail):
            return "\(path):\(line): \(detail)"
        case let .malformedHeader(path, line, detail):
            return "\(path):\(line): bad header: \(detail)"
        case let .corrupt(name, detail):
            return "\(name): \(detail)"
        case let .noRows(path):
            return "\(path): the file has no data rows"
        case let .singleClass(path, column, label):
            return "\(path): the label column \(column) has only one class ('\(label)'); classification needs at least two"
        case let .mixedColumn(path, column, numericExample, numericLine, textExample, textLine):
            return "\(path): column \(column) mixes numbers and text ('\(numericExample)' on line \(numericLine), "
                + "'\(textExample)' on line \(textLine)); expected one kind per column"
        case let .missingValue(path, line, column):
            return "\(path):\(line): missing value in column \(column); pass `--impute mean` to fill missing values "
                + "with the column mean (the most frequent value for categorical columns)"
        case let .missingLabel(path, line):
            return "\(path):\(line): the label is missing; rows without a label cannot be used"
        case let .unknownLabelColumn(path, requested, available):
            return "\(path): no label column '\(requested)'; expected a column name or a 0-based index among: "
                + available.prefix(20).joined(separator: ", ") + (available.count > 20 ? ", …" : "")
        case let .invalidArgument(message):
            return message
        }
    }

    public var errorDescription: String? { description }
}
