import ArgumentParser

// PLACEHOLDER: replaced by the issue that implements `afsearch studies`.
struct StudiesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "studies", abstract: "List studies in the runs folder. (not implemented yet)")
    func run() async throws { throw ValidationError("'afsearch studies' is not implemented yet") }
}
