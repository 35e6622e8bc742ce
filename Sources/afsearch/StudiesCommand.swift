import ArgumentParser
import Foundation
import Search

/// `afsearch studies`: one line per study in the runs folder.
struct StudiesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "studies", abstract: "List the studies in the runs folder (or --storage) with their progress and best score.")

    @OptionGroup var storageOptions: StorageOptions

    @Flag(name: .long, help: "Print a JSON array instead of a table.")
    var json = false

    func run() async throws {
        let storage = try storageOptions.resolve()
        let summaries = try storage.summaries()
        if json {
            try JSONOutput.print(summaries)
            return
        }
        guard !summaries.isEmpty else {
            print("no studies in \(storage)")
            return
        }
        let rows = summaries.map { s in
            if let error = s.error { return [s.name, "unreadable", "-", "-", "-", "-", error] }
            return [s.name, s.kind ?? "-", "\(s.finishedCount)/\(s.trialCount)", "\(s.divergedCount)",
             s.bestObjective.map { String(format: "%.4f", $0) } ?? "-",
             s.bestTestAccuracy.map { String(format: "%.4f", $0) } ?? "-",
             s.lastActivity.map { ISO8601DateFormatter().string(from: $0) } ?? "-"]
        }
        print(StudyTextTable.render(header: ["study", "kind", "finished", "diverged", "best objective", "test", "last trial"],
                               rows: rows))
    }
}

/// Left-aligned columns separated by two spaces.
enum StudyTextTable {
    static func render(header: [String], rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }
                .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
        }.joined(separator: "\n")
    }
}
