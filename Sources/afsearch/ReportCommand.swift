import ArgumentParser
import Foundation
import Search

/// `afsearch report RUN`: the run's self-contained HTML report.
struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a run's self-contained HTML report (inline SVG plots of the evolved functions, fitness, timing, tables).")

    @Argument(help: ArgumentHelp("A run folder (runs/<study>) or a study name under runs/.", valueName: "run"))
    var runPath: String
    @Option(help: "Write the report here instead of <run>/report.html.")
    var output: String?

    func run() async throws {
        let folder = EvolutionCLI.runFolder(runPath)
        let written = try RunReport.write(folder: folder)
        if let output {
            let target = URL(fileURLWithPath: output)
            let data = try Data(contentsOf: written)
            try data.write(to: target, options: .atomic)
            print(target.path)
        } else {
            print(written.path)
        }
    }
}
