import ArgumentParser
import Foundation
import Kernels

/// `afsearch export EXPR --to pytorch|jax|latex`, or `afsearch export RUN --to pytorch` for a run folder.
struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export an expression (PyTorch nn.Module, JAX function or LaTeX) or a run's best functions (PyTorch)."
    )

    /// A plain string: an existing run folder is exported as a whole, anything else is parsed as an expression.
    @Argument(help: "An activation expression in x, or a run folder (runs/<study>) whose best functions to export.")
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

    /// The exported text of one expression.
    static func export(_ text: String, format: ActivationExport.Format, name: String) throws -> String {
        let expr = try parseExpressionArgument(text)
        let out = ActivationExport.render(expr, as: format, name: name)
        return out.hasSuffix("\n") ? out : out + "\n"
    }
}
