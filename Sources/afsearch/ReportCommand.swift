import ArgumentParser
import Foundation
import Search

/// `afsearch report RUN`: the run's self-contained HTML report.
struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a run's self-contained HTML report: evolved functions, fitness, timing and tables of an evolution or its experiment; objective over trials and best trials of an à la carte study; an à la carte experiment's table and plots.")

    @Argument(help: ArgumentHelp("A run folder (runs/<study>) or a study name under the runs folder (or in --storage).", valueName: "run"))
    var runPath: String
    @Option(help: "Write the report here instead of <run>/report.html (the run folder is then left as it is).")
    var output: String?
    @OptionGroup var storageOptions: StorageOptions

    func validate() throws {
        if runPath.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("the run is empty; expected a run folder or a study name") }
        if let output, output.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("--output is empty; expected a file path") }
    }

    func run() async throws {
        // The output is checked first; the report is built in memory and written to one place only.
        if let output { try OutputPath.check(output, option: "--output") }
        let html: String
        let folder: URL
        if storageOptions.storage != nil {
            // A study in a storage URL: read from there; the report goes to <runs>/<study>/report.html.
            let store = try storageOptions.resolve().openForReading(runPath)
            html = try RunReport.html(store: store)
            folder = try storageOptions.folder(of: runPath)
            if output == nil { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) }
        } else {
            folder = try RunFolders.resolve(runPath, runs: storageOptions.runs)
            html = try RunReport.html(folder: folder)
        }
        let target = output.map { URL(fileURLWithPath: $0) } ?? folder.appendingPathComponent(RunReport.fileName)
        do {
            try Data(html.utf8).write(to: target, options: .atomic)
        } catch {
            throw CommandFailure((output == nil ? "" : "--output ") + ErrorText.describe(error))
        }
        print(target.path)
    }
}

/// Run folders named on the command line: a path to a folder, or a study name under the runs folder.
enum RunFolders {
    /// The folder `argument` names; an error says where it looked and which studies there are.
    static func resolve(_ argument: String, runs: String?) throws -> URL {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else {
                throw CommandFailure("'\(argument)' is a file; expected a run folder (runs/<study>) or a study name")
            }
            return URL(fileURLWithPath: argument, isDirectory: true)
        }
        let catalog = StudyCatalog(root: runs.map { URL(fileURLWithPath: $0) })
        let known = catalog.names()
        let list = known.isEmpty ? "none" : known.joined(separator: ", ")
        // A path (it has a '/') that does not exist is not looked up again under the runs folder.
        if argument.contains("/") || (try? StudyCatalog.validate(name: argument)) == nil {
            throw CommandFailure("no run folder '\(argument)'; expected an existing folder or a study name under \(catalog.root.path) (known: \(list))")
        }
        let folder = catalog.folder(of: argument)
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CommandFailure("no study '\(argument)' under \(catalog.root.path) (known: \(list))")
        }
        return folder
    }

    /// Whether `argument` names a run rather than an expression: an existing folder, a path, or a study.
    static func looksLikeRun(_ argument: String, runs: String?) -> Bool {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory), isDirectory.boolValue { return true }
        if argument.contains("/") { return true }
        let catalog = StudyCatalog(root: runs.map { URL(fileURLWithPath: $0) })
        if (try? StudyCatalog.validate(name: argument)) != nil,
           FileManager.default.fileExists(atPath: catalog.folder(of: argument).path, isDirectory: &isDirectory), isDirectory.boolValue {
            return true
        }
        return false
    }
}
