import ArgumentParser
import Datasets
import Foundation
import Search

/// How a command that loads data finds and reads it: `--data-root`, `--impute`, `--label`. Every command that
/// loads a dataset takes this group, so an error's advice (`pass --impute mean`) works wherever it appears.
struct DataOptions: ParsableArguments {
    @Option(name: .long, help: "Data folder (default: $AFSEARCH_DATA, else ~/.cache/afsearch/data).")
    var dataRoot: String?

    @Option(name: .long, help: "Missing values: reject (an error naming the cell) or mean (column mean; most frequent level for categorical columns).")
    var impute: MissingValuePolicy = .reject

    @Option(name: .long, help: "For a data file: the label column, by name, 0-based index, or 'last' (default: KEEL @outputs, else the last column).")
    var label: String?

    func validate() throws {
        if let dataRoot, dataRoot.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--data-root is empty; expected a folder")
        }
        if let label, label.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--label is empty; expected a column name, a 0-based index or 'last'")
        }
    }

    var root: URL {
        dataRoot.map { URL(fileURLWithPath: $0, isDirectory: true) } ?? DatasetRegistry.defaultDataRoot
    }

    var loadOptions: LoadOptions {
        LoadOptions(missing: impute, labelColumn: label.map(LabelColumn.init(argument:)))
    }

    /// Loads a registry name or a file path with these options.
    func load(_ nameOrPath: String) throws -> Dataset {
        let dataset = try DatasetRegistry.load(nameOrPath, dataRoot: root, options: loadOptions)
        try dataset.checkTrainable()
        for warning in dataset.warnings {
            FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
        }
        return dataset
    }
}

extension MissingValuePolicy: ExpressibleByArgument {}

/// A comma-separated list of a closed set's values (`--methods standard,random`); blanks between commas are
/// skipped, and one unknown entry makes the whole value invalid (argument-parser then lists the known ones).
struct CommaSeparated<Element: ExpressibleByArgument>: ExpressibleByArgument {
    var values: [Element]

    init(_ values: [Element]) { self.values = values }

    init?(argument: String) {
        var values: [Element] = []
        for part in argument.split(separator: ",") {
            let text = part.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            guard let value = Element(argument: text) else { return nil }
            values.append(value)
        }
        self.values = values
    }

    static var allValueStrings: [String] { Element.allValueStrings }

    var defaultValueDescription: String { values.map(\.defaultValueDescription).joined(separator: ",") }
}

extension CommaSeparated: Sendable where Element: Sendable {}

/// Positive whole numbers with an upper bound that keeps a typo (an extra few zeros) from running for days.
func checkCount(_ value: Int, option: String, min: Int = 1, max: Int) throws {
    guard value >= min else { throw ValidationError("\(option) must be at least \(min), got \(value)") }
    guard value <= max else {
        throw ValidationError("\(option) \(value) is more than the limit of \(max); expected \(min)…\(max)")
    }
}

/// A study name that can be a folder under the runs folder (`--study`).
func checkStudyName(_ name: String) throws {
    do { try StudyCatalog.validate(name: name) } catch { throw ValidationError("--study: \(error)") }
}

/// A finite, positive real number (learning rates).
func checkPositive(_ value: Double, option: String, max: Double = 1e6) throws {
    guard value.isFinite, value > 0, value <= max else {
        throw ValidationError("\(option) must be a positive number no larger than \(formatNumber(max)), got \(formatNumber(value))")
    }
}

/// A fraction in [low, 1) (or (low, 1) when `open`).
func checkFraction(_ value: Double, option: String, allowZero: Bool) throws {
    guard value.isFinite, allowZero ? value >= 0 : value > 0, value < 1 else {
        throw ValidationError("\(option) must be in \(allowZero ? "[0" : "(0"), 1), got \(formatNumber(value))")
    }
}

/// A number as a person writes it (`-1`, `0.5`, `nan`), not Swift's `-1.0`.
func formatNumber(_ value: Double) -> String {
    if value.isNaN { return "nan" }
    if value.isInfinite { return value > 0 ? "inf" : "-inf" }
    if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
    return "\(value)"
}

extension DataOptions {
    /// Fails fast, without reading a whole dataset, when `nameOrPath` is neither a present registry dataset
    /// nor an existing file (the loader's own message: the missing files, or the names it resembles).
    func checkAvailable(_ nameOrPath: String) throws {
        if let info = DatasetRegistry.info(named: nameOrPath) {
            if DatasetRegistry.isPresent(info, dataRoot: root) { return }
        } else {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: nameOrPath, isDirectory: &isDirectory), !isDirectory.boolValue { return }
        }
        _ = try DatasetRegistry.load(nameOrPath, dataRoot: root, options: loadOptions)
    }
}

/// A run folder that a command is about to create: when the command fails before it stored any result, the
/// folder goes again, so the corrected command starts clean instead of meeting "already exists".
final class NewRunFolder: @unchecked Sendable {
    let folder: URL
    private let existed: Bool
    private let lock = NSLock()
    private var progressed = false

    init(_ folder: URL) {
        self.folder = folder
        existed = FileManager.default.fileExists(atPath: folder.path)
    }

    /// Called when a result is stored: from then on the folder holds work worth keeping.
    func markProgress() { lock.withLock { progressed = true } }

    /// Runs `body`; on failure removes the folder if this run created it and stored nothing in it.
    func run<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            if !existed, !lock.withLock({ progressed }) {
                try? FileManager.default.removeItem(at: folder)
            }
            throw error
        }
    }
}
