import ArgumentParser

// PLACEHOLDER: replaced by the issue that implements `afsearch report`.
struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "report", abstract: "Write a run's self-contained HTML report. (not implemented yet)")
    func run() async throws { throw ValidationError("'afsearch report' is not implemented yet") }
}
