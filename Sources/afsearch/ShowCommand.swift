import ArgumentParser

// PLACEHOLDER: replaced by the issue that implements `afsearch show`.
struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Print a study's best trials. (not implemented yet)")
    func run() async throws { throw ValidationError("'afsearch show' is not implemented yet") }
}
