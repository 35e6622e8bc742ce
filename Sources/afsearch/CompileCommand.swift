import ArgumentParser

// PLACEHOLDER: replaced by the issue that implements `afsearch compile`.
struct CompileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "compile", abstract: "Show an expression's canonical form, derivative, fingerprint and OpenCL code. (not implemented yet)")
    func run() async throws { throw ValidationError("'afsearch compile' is not implemented yet") }
}
