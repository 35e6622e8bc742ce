import ArgumentParser

// PLACEHOLDER: replaced by the issue that implements `afsearch export`.
struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export", abstract: "Export an expression or a run's best functions as PyTorch, JAX or LaTeX. (not implemented yet)")
    func run() async throws { throw ValidationError("'afsearch export' is not implemented yet") }
}
