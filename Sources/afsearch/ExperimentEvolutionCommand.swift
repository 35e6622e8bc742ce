import ArgumentParser

// PLACEHOLDER: replaced by the issue that implements `afsearch evolution`.
struct ExperimentEvolutionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "evolution", abstract: "Study 2's five-method experiment. (not implemented yet)")
    func run() async throws { throw ValidationError("'afsearch evolution' is not implemented yet") }
}
