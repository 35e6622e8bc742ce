import ArgumentParser

// PLACEHOLDER: replaced by the issue that implements `afsearch train`.
struct TrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "train", abstract: "Train one network or a population from a file. (not implemented yet)")
    func run() async throws { throw ValidationError("'afsearch train' is not implemented yet") }
}
