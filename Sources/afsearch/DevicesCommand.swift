import ArgumentParser

// PLACEHOLDER: replaced by the issue that implements `afsearch devices`.
struct DevicesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "devices", abstract: "List OpenCL devices and mark the default. (not implemented yet)")
    func run() async throws { throw ValidationError("'afsearch devices' is not implemented yet") }
}
