import ArgumentParser

// PLACEHOLDER: replaced by the issue that implements `afsearch evolve`.
struct EvolveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "evolve", abstract: "Evolve activation functions with CGP or tree GP, or coevolve three populations. (not implemented yet)")
    func run() async throws { throw ValidationError("'afsearch evolve' is not implemented yet") }
}
