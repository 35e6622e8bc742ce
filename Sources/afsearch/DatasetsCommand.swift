import ArgumentParser
import Datasets
import Foundation

/// `afsearch datasets [NAME-OR-PATH]`: lists the known datasets, or loads one and describes it.
struct DatasetsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "datasets",
        abstract: "List known datasets (rows × features × classes, present or absent), or describe one.",
        discussion: """
            Without an argument, lists every dataset `make data` fetches. Sizes of present datasets are read \
            from their files; those of absent ones come from the registry's table. With a registry name \
            (keel/wine, sklearn/digits, fashion-mnist, mnist-5k) or a file path (.dat, .arff, .csv, .csv.gz, \
            *-images-idx3-ubyte[.gz]), loads it and prints its shape, classes and warnings.
            """
    )

    /// A registry name or a file path to load and describe.
    @Argument(help: "A dataset name or file to load and describe (omit to list all).")
    var dataset: String?

    /// Only the datasets of one suite.
    @Option(help: "List only a suite: paper1 (study 1's 25 KEEL sets) or paper2 (offline image sets).")
    var suite: String?

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @OptionGroup var dataOptions: DataOptions

    @Flag(help: "List from the registry's table only, without reading present files (fast).")
    var noMeasure = false

    func validate() throws {
        if let suite, !DatasetRegistry.suiteNames.contains(suite) {
            throw ValidationError("--suite '\(suite)' is not a suite; expected one of \(DatasetRegistry.suiteNames.joined(separator: ", "))")
        }
        if let dataset, dataset.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("the dataset is empty; expected a registry name or a data file")
        }
    }

    func run() async throws {
        let root = dataOptions.root
        if let dataset {
            try describe(dataset, root: root, options: dataOptions.loadOptions)
        } else {
            try list(root: root)
        }
    }

    private struct Row {
        var info: DatasetInfo
        var present: Bool
        var measured: Bool
        var error: String?
    }

    private func list(root: URL) throws {
        let infos = try suite.map { try DatasetRegistry.suite($0) } ?? DatasetRegistry.all
        var rows: [Row] = []
        // Measuring reads every present file (seconds for the large sets): say which, on a terminal only.
        let line = ProgressLine(enabled: isatty(STDERR_FILENO) != 0)
        defer { line.finish() }
        for (index, info) in infos.enumerated() {
            let present = DatasetRegistry.isPresent(info, dataRoot: root)
            var row = Row(info: info, present: present, measured: false, error: nil)
            if present && !noMeasure {
                line.update("measuring \(info.name) (\(index + 1)/\(infos.count))")
                do {
                    row.info = try DatasetRegistry.measure(info, dataRoot: root)
                    row.measured = true
                } catch let error as DatasetError {
                    row.error = error.description
                }
            }
            rows.append(row)
        }
        if json {
            // One flat object per dataset: the registry's fields plus present/measured/error.
            let objects: [[String: Any]] = try rows.map { row in
                var object = try JSONSerialization.jsonObject(with: JSONEncoder().encode(row.info)) as? [String: Any] ?? [:]
                object["present"] = row.present
                object["measured"] = row.measured
                if let error = row.error { object["error"] = error }
                return object
            }
            try printJSON(objects)
            return
        }
        let width = max(24, rows.map(\.info.name.count).max() ?? 0)
        print("name".padding(toLength: width, withPad: " ", startingAt: 0)
              + "    rows  feats classes  kind           status")
        for row in rows {
            let info = row.info
            let kind = info.imageShape.map { "image " + $0.map(String.init).joined(separator: "×") }
                ?? (info.categorical ? "categorical" : "numeric")
            let status = row.error.map { "error: \($0)" } ?? (row.present ? "present" : "absent")
            print(info.name.padding(toLength: width, withPad: " ", startingAt: 0)
                  + pad(info.rows, 8) + pad(info.features, 7) + pad(info.classes, 8) + "  "
                  + kind.padding(toLength: 14, withPad: " ", startingAt: 0) + " " + status)
        }
        let absent = rows.filter { !$0.present }.count
        print("\(rows.count) datasets, \(rows.count - absent) present in \(root.path)"
              + (absent > 0 ? "; run `make data` to fetch the \(absent) absent" : ""))
    }

    private func describe(_ name: String, root: URL, options: LoadOptions) throws {
        let dataset = try DatasetRegistry.load(name, dataRoot: root, options: options)
        if json {
            var summary: [String: Any] = [
                "name": dataset.name, "source": dataset.source, "rows": dataset.rowCount,
                "features": dataset.featureCount, "classes": dataset.classCount,
                "classNames": dataset.classNames, "classCounts": dataset.allRows.classCounts,
                "featureNames": dataset.featureNames, "warnings": dataset.warnings,
            ]
            if let test = dataset.officialTest { summary["officialTestRows"] = test.rowCount }
            if let shape = dataset.imageShape { summary["imageShape"] = shape }
            try printJSON(summary)
            return
        }
        print("\(dataset.name)  (\(dataset.source))")
        print("  rows \(dataset.rowCount)" + (dataset.officialTest.map { " (official test: \($0.rowCount))" } ?? "")
              + ", features \(dataset.featureCount)" + (dataset.imageShape.map { " as image \($0)" } ?? "")
              + ", classes \(dataset.classCount)")
        let counts = dataset.allRows.classCounts
        print("  classes: " + zip(dataset.classNames, counts).map { "\($0) (\($1))" }.joined(separator: ", "))
        for warning in dataset.warnings {
            FileHandle.standardError.write(Data("warning: \(warning)\n".utf8))
        }
    }

    private func printJSON(_ object: Any) throws {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        print(String(decoding: data, as: UTF8.self))
    }

    private func pad(_ value: Int, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: " ", count: max(0, width - text.count)) + text
    }
}
