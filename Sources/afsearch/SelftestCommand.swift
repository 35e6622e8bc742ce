import ArgumentParser

// PLACEHOLDER: replaced by the issue that implements `afsearch selftest`.
struct SelftestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "selftest", abstract: "Prove the OpenCL device works: build, launch, check. (not implemented yet)")
    func run() async throws { throw ValidationError("'afsearch selftest' is not implemented yet") }
}
