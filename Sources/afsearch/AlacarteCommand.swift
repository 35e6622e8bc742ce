import ArgumentParser

// PLACEHOLDER: replaced by the issue that implements `afsearch alacarte`.
struct AlacarteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "alacarte", abstract: "Choose one activation per layer from a menu by random search or TPE. (not implemented yet)")
    func run() async throws { throw ValidationError("'afsearch alacarte' is not implemented yet") }
}
