import ArgumentParser

// PLACEHOLDER: replaced by the issue that implements `afsearch eval`.
struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "eval", abstract: "Evaluate an expression and its derivative on the device. (not implemented yet)")
    func run() async throws { throw ValidationError("'afsearch eval' is not implemented yet") }
}
