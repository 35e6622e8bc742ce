import ArgumentParser

// PLACEHOLDER: replaced by the issue that implements `afsearch datasets`.
struct DatasetsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "datasets", abstract: "List known datasets and whether they are present. (not implemented yet)")
    func run() async throws { throw ValidationError("'afsearch datasets' is not implemented yet") }
}
