import ArgumentParser
import Foundation
import Kernels

/// `afsearch export EXPR --to pytorch|jax|latex`.
struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export an expression as a PyTorch nn.Module, a JAX function or LaTeX."
    )

    /// Kept a plain string: a later version also accepts a run folder here.
    @Argument(help: "The activation expression in x.")
    var source: String

    @Option(name: .long, help: "pytorch, jax or latex.")
    var to: String = "pytorch"

    @Option(name: .long, help: "Class name (PyTorch) or, snake-cased, function name (JAX).")
    var name: String = "EvolvedActivation"

    func run() async throws {
        if let folder = EvolutionCLI.exportableRun(source) {  // a run folder: its best functions (issue 8)
            print(try EvolutionCLI.exportRun(folder, format: to).path)
            return
        }
        guard let format = ActivationExport.Format(rawValue: to.lowercased()) else {
            throw ValidationError("unknown export format '\(to)'; expected pytorch, jax or latex")
        }
        guard name.first.map({ $0.isLetter || $0 == "_" }) == true, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
            throw ValidationError("--name '\(name)' is not a Python identifier")
        }
        print(try Self.export(source, format: format, name: name), terminator: "")
    }

    /// The exported text of one expression (the seam for exporting a run's best functions later).
    static func export(_ text: String, format: ActivationExport.Format, name: String) throws -> String {
        let expr = try parseExpressionArgument(text)
        let out = ActivationExport.render(expr, as: format, name: name)
        return out.hasSuffix("\n") ? out : out + "\n"
    }
}
