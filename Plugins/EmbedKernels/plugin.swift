import Foundation
import PackagePlugin

/// Embeds every `kernels/*.cl` template of the package into the target as `KernelTemplates`,
/// a Swift enum of string constants, regenerated whenever a template changes. A template added to an
/// existing build folder is not seen until the manifest changes (SwiftPM keeps the command list this
/// plugin returned): `touch Package.swift` after adding a `kernels/*.cl` file.
@main
struct EmbedKernels: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let kernelsDir = context.package.directoryURL.appendingPathComponent("kernels")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: kernelsDir.path)) ?? []
        let inputs = names.filter { $0.hasSuffix(".cl") }.sorted()
            .map { kernelsDir.appendingPathComponent($0) }
        let output = context.pluginWorkDirectoryURL.appendingPathComponent("KernelTemplates.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(inputs.count) OpenCL templates",
                executable: try context.tool(named: "EmbedKernelsTool").url,
                arguments: [output.path] + inputs.map(\.path),
                inputFiles: inputs,
                outputFiles: [output]
            )
        ]
    }
}
