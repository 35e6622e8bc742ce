import ArgumentParser

// PLACEHOLDER: replaced by the issue that implements `afsearch alacarte`.
struct ExperimentAlacarteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "alacarte", abstract: "Study 1's replicated experiment: standard vs random vs TPE. (not implemented yet)")
    func run() async throws { throw ValidationError("'afsearch alacarte' is not implemented yet") }
}
