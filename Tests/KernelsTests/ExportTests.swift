import Foundation
import Testing
@testable import Kernels

/// Exported code: LaTeX text, and PyTorch modules executed by PyTorch itself (skipped where `import torch`
/// fails), whose values and autograd derivatives must equal the Swift reference and symbolic derivative.
@Suite struct ExportTests {
    static let python = ProcessInfo.processInfo.environment["AFSEARCH_PYTHON"] ?? "python3"

    static let torchAvailable: Bool = (try? runPython("import torch\nprint('ok')")) == "ok\n"

    static func runPython(_ script: String) throws -> String {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("afsearch-export-\(UUID().uuidString).py")
        try script.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, file.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self)
    }

    @Test(arguments: [
        ("x * sigmoid(x)", "x \\cdot \\sigma\\left(x\\right)"),
        ("1 - 2 * exp(-0.7 * exp(x))", "1 - 2 \\cdot e^{-0.7 \\cdot e^{x}}"),
        ("prelu(x; a=0.25)", "\\operatorname{PReLU}_{a}\\left(x\\right)"),
        ("(x - 1) / (x + 1)", "\\frac{x - 1}{x + 1}"),
        ("x - (x - 1)", "x - \\left(x - 1\\right)"),
        ("1e-07 * abs(x)", "10^{-7} \\cdot \\left|x\\right|"),
        ("softmax(x)", "\\operatorname{softmax}(\\mathbf{x})_i"),
    ])
    func latex(_ text: String, _ expected: String) throws {
        #expect(ActivationExport.latex(try ActivationExpr.parse(text)) == expected)
    }

    @Test func jaxFunctionNamesParametersAndUsesExactGELU() throws {
        let code = ActivationExport.jaxFunction(try ActivationExpr.parse("gelu(x) * param(k=1.5)"))
        #expect(code.contains("def evolved_activation(x, k=1.5):"))
        #expect(code.contains("jax.nn.gelu(x, approximate=False)"))
    }

    @Test(.enabled(if: torchAvailable, "PyTorch is not importable"))
    func pytorchModulesReproduceValuesAndDerivatives() throws {
        let exprs = Menu.paper1.entries.filter { !$0.isLayerwise }.map(\.expression)
            + RandomExpressions.make(300, seed: 23)
        let points: [Double] = [-7.5, -3, -2, -1, -0.5, -0.25, 0, 0.25, 0.5, 1, 1.5, 3, 4.5, 8]
        var script = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\nmodules = []\n"
        for (i, e) in exprs.enumerated() {
            script += ActivationExport.pytorchModule(e, className: "A\(i)").replacingOccurrences(of: "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n", with: "")
            script += "modules.append(A\(i)().double().eval())\n"
        }
        script += """
        pts = [\(points.map { "\($0)" }.joined(separator: ", "))]
        for i, m in enumerate(modules):
            x = torch.tensor(pts, dtype=torch.float64, requires_grad=True)
            y = m(x)
            g = torch.autograd.grad(y.sum(), x, allow_unused=True)[0] if y.requires_grad else None
            g = torch.zeros_like(x) if g is None else g
            for j in range(len(pts)):
                print(i, j, repr(float(y[j])), repr(float(g[j])))

        """
        let output = try Self.runPython(script)
        var rows = 0
        for line in output.split(separator: "\n") {
            let f = line.split(separator: " ").map(String.init)
            guard f.count == 4, let i = Int(f[0]), let j = Int(f[1]) else { continue }
            rows += 1
            let e = exprs[i], x = points[j]
            let value = Double(f[2]) ?? .nan, slope = Double(f[3]) ?? .nan
            #expect(close(value, e.evaluate(x), tolerance: 1e-9), "\(e) at \(x): PyTorch \(value), Swift \(e.evaluate(x))")
            if intermediatesAreFinite(e, x) {
                let d = e.derivative().evaluate(x)
                #expect(close(slope, d, tolerance: 1e-9), "\(e)'(\(x)): PyTorch \(slope), symbolic \(d)")
            }
        }
        #expect(rows == exprs.count * points.count, "\(output.suffix(2000))")
    }
}
