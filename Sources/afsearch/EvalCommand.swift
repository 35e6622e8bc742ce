import ArgumentParser
import Foundation
import GPUEngine
import Kernels

/// `afsearch eval EXPR --at 0.5,-1,2 | --range -5:5:101`: x, f(x), f'(x), one row each.
struct EvalCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate an expression and its derivative on the device (or with --cpu, the Swift reference).",
        discussion: """
        The device path compiles the generated OpenCL code (af_act, af_dact) with kernels/af_eval.cl and runs it
        in float32, evaluation mode (RReLU at its mean slope), parameters at their initial values. --cpu uses the
        Double reference and the symbolic derivative. In --json, non-finite numbers are the strings "nan", "inf", "-inf".
        """
    )

    @Argument(help: "The activation expression in x.")
    var expression: String

    @Option(name: .long, parsing: .unconditional, help: "Comma-separated inputs, e.g. --at 0.5,-1,2.")
    var at: String?

    @Option(name: .long, parsing: .unconditional, help: "START:STOP:COUNT evenly spaced inputs, e.g. --range -5:5:101.")
    var range: String?

    @Flag(name: .long, help: "Compute with the Swift reference (Double) instead of the device.")
    var cpu = false

    @Flag(name: .long, help: "Print rows as JSON.")
    var json = false

    @OptionGroup var deviceOptions: DeviceSelectionOptions

    func run() async throws {
        let expr = try parseExpressionArgument(expression)
        if expr.isLayerwise {
            throw ValidationError("'\(expr)' normalises across a layer's units; it has no value at a single x")
        }
        let xs = try inputs()
        var rows: [(x: Double, value: Double, derivative: Double)]
        if cpu {
            let d = expr.derivative()
            rows = xs.map { ($0, expr.evaluate($0), d.evaluate($0)) }
        } else {
            rows = try Self.onDevice(expr, xs.map(Float.init), device: deviceOptions.select())
        }
        if json {
            func number(_ v: Double) -> String {
                v.isNaN ? "\"nan\"" : v.isInfinite ? (v > 0 ? "\"inf\"" : "\"-inf\"") : "\(v)"
            }
            let items = rows.map { "  {\"x\": \(number($0.x)), \"value\": \(number($0.value)), \"derivative\": \(number($0.derivative))}" }
            print("[\n" + items.joined(separator: ",\n") + "\n]")
            return
        }
        print("x\tf(x)\tf'(x)")
        for r in rows { print("\(format(r.x))\t\(format(r.value))\t\(format(r.derivative))") }
    }

    /// Device results are float32: print them in float's shortest form, not as widened doubles.
    func format(_ v: Double) -> String { cpu ? formatConstant(v) : formatConstant(Double("\(Float(v))") ?? v) }

    /// Runs af_eval over the inputs for one expression (id 0) with its initial parameters.
    static func onDevice(_ expr: ActivationExpr, _ xs: [Float], device: ComputeDevice) throws -> [(x: Double, value: Double, derivative: Double)] {
        let program = try device.program(source: try ActivationCodegen.evaluationSource(for: [expr]))
        let n = xs.count
        let parameters = expr.parameters.map { Float($0.initial) }
        let x = try device.buffer(xs)
        let prm = try device.buffer(parameters.isEmpty ? [Float(0)] : parameters)
        let value = try device.buffer(Float.self, count: n)
        let slope = try device.buffer(Float.self, count: n)
        _ = try program.kernel("af_eval").launch(
            global: [n, 1], local: nil,
            args: Int32(n), UInt32(0), x, prm, Int32(max(1, parameters.count)), value, slope)
        let v = try value.download(), s = try slope.download()
        return (0..<n).map { (Double(xs[$0]), Double(v[$0]), Double(s[$0])) }
    }

    func inputs() throws -> [Double] {
        switch (at, range) {
        case (let list?, nil):
            let parts = list.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            return try parts.map { part in
                guard let v = Double(part) else {
                    throw ValidationError("--at: '\(part)' is not a number; expected comma-separated numbers like 0.5,-1,2")
                }
                return v
            }
        case (nil, let spec?):
            let parts = spec.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard parts.count == 3, let start = Double(parts[0]), let stop = Double(parts[1]), let count = Int(parts[2]),
                  count >= 1, count <= 10_000_000, start.isFinite, stop.isFinite else {
                throw ValidationError("--range '\(spec)': expected START:STOP:COUNT with COUNT ≥ 1, e.g. -5:5:101")
            }
            if count == 1 { return [start] }
            return (0..<count).map { start + (stop - start) * Double($0) / Double(count - 1) }
        case (nil, nil):
            throw ValidationError("give the inputs with --at 0.5,-1,2 or --range -5:5:101")
        case (_?, _?):
            throw ValidationError("give either --at or --range, not both")
        }
    }
}
