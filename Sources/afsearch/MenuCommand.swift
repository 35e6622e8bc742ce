import ArgumentParser

// PLACEHOLDER: replaced by the issue that implements `afsearch menu`.
struct MenuCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "menu", abstract: "List a function menu with formulas. (not implemented yet)")
    func run() async throws { throw ValidationError("'afsearch menu' is not implemented yet") }
}
