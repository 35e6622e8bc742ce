import ArgumentParser

// PLACEHOLDER: replaced by the issue that implements `afsearch bench`.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench", abstract: "Measure kernel and training throughput. (not implemented yet)")
    func run() async throws { throw ValidationError("'afsearch bench' is not implemented yet") }
}
