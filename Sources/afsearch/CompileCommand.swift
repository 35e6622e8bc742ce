import ArgumentParser
import Foundation
import Kernels

/// A malformed expression on the command line: the parser's message, printed on stderr (exit 1).
struct ExpressionArgumentError: Error, CustomStringConvertible {
    var text: String
    var underlying: ExpressionParseError
    var description: String { "invalid expression '\(abbreviatedExpressionText(text))': \(underlying)" }
}

/// Parses an EXPR argument; the error carries the column and what was expected.
func parseExpressionArgument(_ text: String) throws -> ActivationExpr {
    do {
        return try ActivationExpr.parse(text)
    } catch {
        throw ExpressionArgumentError(text: text, underlying: error)
    }
}

/// `afsearch compile EXPR`: what the search sees of an expression and the OpenCL C the trainer gets.
struct CompileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compile",
        abstract: "Show an expression's canonical form, derivative, fingerprint and OpenCL code.",
        discussion: "Example: afsearch compile 'x * tanh(softplus(x))'"
    )

    /// The expression, e.g. 'x * sigmoid(x)', 'prelu(x; a=0.25)', '1 - 2*exp(-0.7*exp(x))'.
    @Argument(help: "The activation expression in x.")
    var expression: String

    @Flag(name: .long, help: "Print the result as JSON.")
    var json = false

    @Flag(name: .long, help: "Omit the OpenCL source.")
    var noSource = false

    struct Summary: Encodable {
        var expression: String
        var canonical: String
        var canonicalHash: String
        var fingerprint: String
        var derivative: String?
        var parameters: [Parameter]
        var parameterDerivatives: [String: String]
        var layerwise: Bool
        var opencl: String?

        struct Parameter: Encodable {
            var name: String
            var initial: Double
        }
    }

    func run() async throws {
        let expr = try parseExpressionArgument(expression)
        let canonical = expr.canonical
        var summary = Summary(
            expression: expr.description, canonical: canonical.description, canonicalHash: expr.canonicalHashHex,
            fingerprint: expr.fingerprint.description, derivative: nil,
            parameters: expr.parameters.map { .init(name: $0.name, initial: $0.initial) },
            parameterDerivatives: [:], layerwise: expr.isLayerwise, opencl: nil)
        if !expr.isLayerwise {
            summary.derivative = expr.derivative().description
            for p in expr.parameters { summary.parameterDerivatives[p.name] = expr.derivative(parameter: p.name).description }
            if !noSource { summary.opencl = ActivationCodegen.source(for: [expr]) }
        }
        if json {
            try JSONOutput.print(summary)
            return
        }
        print("expression:     \(summary.expression)")
        print("canonical:      \(summary.canonical)")
        print("canonical hash: \(summary.canonicalHash)")
        print("fingerprint:    \(summary.fingerprint)")
        if expr.isLayerwise {
            print("layer-wise:     normalises across a layer's units; the trainer runs it as a row kernel (no af_act code)")
            return
        }
        print("d/dx:           \(summary.derivative ?? "")")
        for p in expr.parameters {
            print("parameter \(p.name) (init \(formatConstant(p.initial))): d/d\(p.name) = \(summary.parameterDerivatives[p.name] ?? "")")
        }
        if let source = summary.opencl {
            print("\n// OpenCL C (id 0)")
            print(source, terminator: "")
        }
    }
}
