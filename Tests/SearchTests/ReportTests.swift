import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Kernels
import Testing
@testable import Search

@Suite struct ReportTests {
    /// A run from the synthetic-fitness evolution, written as `afsearch evolve` writes it.
    func syntheticRun() async throws -> (EvolutionResult, URL) {
        let targets: [ActivationExpr] = [.binary(.mul, .x, .unary(.tanh, .x)), .unary(.hardtanh, .x), .unary(.elu, .x)]
        let settings = EvolutionSettings(method: .coevo, genome: .cgp, generations: 6, population: 4, seed: 3)
        var result = try await EvolutionRun(settings: settings, evaluator: syntheticEvaluator(SyntheticFitnessBackend(targets: targets))).run()
        result.dataset = "synthetic <&> targets"
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("afsearch-report-\(UUID().uuidString)")
        try result.write(to: folder)
        return (result, folder)
    }

    static func svgs(in html: String) -> [String] {
        var found: [String] = []
        var rest = Substring(html)
        while let start = rest.range(of: "<svg"), let end = rest.range(of: "</svg>", range: start.upperBound..<rest.endIndex) {
            found.append(String(rest[start.lowerBound..<end.upperBound]))
            rest = rest[end.upperBound...]
        }
        return found
    }

    @Test func reportHasThePlotsAndTheFormulasAndNeedsNoNetwork() async throws {
        let (result, folder) = try await syntheticRun()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = try RunReport.write(folder: folder)
        let html = try String(contentsOf: url, encoding: .utf8)
        let charts = Self.svgs(in: html)
        // f and f′ of the best functions, one fitness chart per population, the time split
        #expect(charts.count == 2 + 3 + 1)
        #expect(charts[0].contains("f(x)") && charts[1].contains("derivative"))
        #expect(charts[0].contains(">ReLU<"))
        for chart in charts { #expect(chart.contains("<polyline")) }
        for population in ["input", "hidden", "output"] { #expect(html.contains("population \(population)")) }
        for formula in result.best.formulas { #expect(html.contains(SVGChart.escape(formula))) }
        #expect(html.contains("synthetic &lt;&amp;&gt; targets"))     // text is escaped
        // self-contained: no scripts, no external resources
        #expect(!html.contains("<script"))
        #expect(!html.contains("src=") && !html.contains("href=") && !html.contains("@import"))
        // every chart parses as XML
        for chart in charts {
            let parser = XMLParser(data: Data(chart.utf8))
            #expect(parser.parse(), "chart is not well-formed XML")
        }
    }

    @Test func plottedCurvesAreTheFunctionAndItsDerivative() throws {
        let xTanh = ActivationExpr.binary(.mul, .x, .unary(.tanh, .x))
        let f = RunReport.functionSeries([xTanh, xTanh, .unary(.elu, .x)], derivative: false)
        let df = RunReport.functionSeries([xTanh, xTanh, .unary(.elu, .x)], derivative: true)
        // equal slots are drawn once; ReLU is always there
        #expect(f.map(\.name) == ["input", "output", "ReLU"])
        #expect(RunReport.grid.count == 201 && RunReport.grid.first == -5 && RunReport.grid.last == 5)
        for (i, x) in RunReport.grid.enumerated() {
            #expect(abs(f[0].points[i].y - x * Foundation.tanh(x)) < 1e-12)
            // d/dx x·tanh(x) = tanh(x) + x·(1 − tanh²(x))
            let t = Foundation.tanh(x)
            #expect(abs(df[0].points[i].y - (t + x * (1 - t * t))) < 1e-9)
            #expect(df[2].points[i].y == (x > 0 ? 1 : 0))
        }
    }

    @Test func experimentTableAppearsInTheReport() throws {
        let summaries = [
            EvolutionMethodSummary(dataset: "d", method: .standard, testAccuracies: [0.8, 0.82], searchFitness: [0.7, 0.7],
                                   functions: [["relu(x)", "relu(x)", "relu(x)"], ["relu(x)", "relu(x)", "relu(x)"]], pValueVersusStandard: nil),
            EvolutionMethodSummary(dataset: "d", method: .coevo, testAccuracies: [0.9, 0.91], searchFitness: [0.8, 0.8],
                                   functions: [["x", "tanh(x)", "elu(x)"], ["x", "x", "x"]], pValueVersusStandard: 0.0004),
        ]
        let experiment = EvolutionExperimentResult(datasets: ["d"], methods: [.standard, .coevo], replicates: 2,
                                                   summaries: summaries, protocolNote: "note")
        let html = RunReport.render(title: "t", evolution: nil, experiment: experiment)
        #expect(html.contains("Five-method experiment"))
        #expect(html.contains("90.50 / 90.50**"))       // mean / median with the p < 0.001 mark
        #expect(html.contains("<code>tanh(x)</code>"))
        // The experiment has a plot too: each method's test accuracy per replicate.
        #expect(html.contains("d: test accuracy per replicate"))
        #expect(Self.svgs(in: html).count == 1)
        #expect(experiment.markdown().contains("| d | 81.00 | 81.00 | 90.50 | 90.50** |"))
        #expect(experiment.latex().contains("d & 81.00 & 90.50$^{**}$ \\\\"))
    }

    @Test func aFolderWithoutARunIsAClearError() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("afsearch-empty-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        do {
            try RunReport.write(folder: folder)
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("evolution.json"))
        }
    }
}

@Suite struct RunExportTests {
    /// A run whose best network is known: each stage's function exercises other primitives.
    func knownRun() throws -> (EvolutionResult, URL) {
        let functions: [ActivationExpr] = [
            try ActivationExpr.parse("x * tanh(x)"),
            try ActivationExpr.parse("hardswish(min(x, elu(x))) - softshrink(x)"),
            try ActivationExpr.parse("max(celu(x), hardtanh(x)) * leaky_relu(x)"),
        ]
        var result = EvolutionResult(
            settings: EvolutionSettings(method: .coevo), history: [], best: NetworkFunctions(functions), bestFitness: 0.9,
            bestTrialNumber: 3, populationBests: [], networksEvaluated: 1, networksTrained: 1, duplicatesSkipped: 0, rejected: 0,
            finalTest: nil, standardTest: nil, dataset: "fixture", network: Study2FCN(width: 8, hiddenLayers: 2), device: nil)
        result.finalTest = TestScore(testAccuracy: 0.8, validationAccuracy: nil, trainAccuracy: nil, diverged: false, epochs: 10)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("afsearch-export-\(UUID().uuidString)")
        try result.write(to: folder)
        return (result, folder)
    }

    /// Runs `script` with the folder of the exported module as its first argument; its stdout, after
    /// expecting a zero exit status.
    static func python(_ script: String, folder: URL) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = ["-c", script, folder.path]
        let pipe = Pipe()
        p.standardOutput = pipe
        try p.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        return output
    }

    static let torchAvailable: Bool = {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        p.arguments = ["-c", "import torch"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }()

    @Test func exportedModulesHaveTheFormulasAndTheFCNBuilder() throws {
        let (result, folder) = try knownRun()
        defer { try? FileManager.default.removeItem(at: folder) }
        let text = try String(contentsOf: RunExport.write(folder: folder), encoding: .utf8)
        for name in ["class EvolvedInput(nn.Module)", "class EvolvedHidden(nn.Module)", "class EvolvedOutput(nn.Module)",
                     "def study2_fcn(in_features=784, classes=10, width=8, hidden_layers=2)", "ACTIVATIONS = {"] {
            #expect(text.contains(name))
        }
        for e in result.best.expressions { #expect(text.contains("f(x) = \(e.canonical)")) }
        #expect(text.contains("torch.tanh(x)") && text.contains("F.hardswish(") && text.contains("F.leaky_relu("))
        #expect(text.components(separatedBy: "import torch\n").count == 2)   // one import block
    }

    /// The exported modules compute the same values as the Swift reference (float64 in torch).
    @Test func exportedModulesMatchTheReferenceValuesInPyTorch() throws {
        guard Self.torchAvailable else { return }  // the formula test above still checks the file
        let (result, folder) = try knownRun()
        defer { try? FileManager.default.removeItem(at: folder) }
        try RunExport.write(folder: folder)
        let xs = stride(from: -6.0, through: 6.0, by: 0.37).map { $0 } + [0, -0.5, 0.5, -1, 1, -3, 3]
        let script = """
        import sys, torch
        sys.path.insert(0, sys.argv[1])
        import activations as a
        xs = torch.tensor([\(xs.map { String($0) }.joined(separator: ","))], dtype=torch.float64)
        for cls in (a.EvolvedInput, a.EvolvedHidden, a.EvolvedOutput):
            m = cls().eval()
            print(",".join(repr(float(v)) for v in m(xs)))
        net = a.study2_fcn(in_features=4, classes=3)
        print(sum(1 for l in net if isinstance(l, torch.nn.Linear)))
        """
        let output = try Self.python(script, folder: folder)
        let lines = output.split(separator: "\n")
        try #require(lines.count == 4)
        for (slot, e) in result.best.expressions.enumerated() {
            let values = lines[slot].split(separator: ",").compactMap { Double($0) }
            try #require(values.count == xs.count)
            for (x, v) in zip(xs, values) {
                #expect(abs(v - e.evaluate(x)) <= 1e-9 * Swift.max(1, abs(v)), "slot \(slot) at x = \(x)")
            }
        }
        #expect(lines[3] == "5")  // input, 2 hidden, output stage and the logits layer
    }

    /// A CNN run exports a builder of its CNN (not the FCN), which PyTorch builds and runs on images.
    @Test func cnnRunsExportTheirCNN() throws {
        var (result, folder) = try knownRun()
        defer { try? FileManager.default.removeItem(at: folder) }
        result.network = nil
        result.architecture = "cnn"
        try result.write(to: folder)
        let text = try String(contentsOf: RunExport.write(folder: folder), encoding: .utf8)
        #expect(!text.contains("study2_fcn"))
        for line in ["def study2_cnn(in_channels=1):", "nn.Conv2d(in_channels, 32, (3, 3), padding=0), EvolvedInput()",
                     "nn.Conv2d(32, 64, (3, 3), padding=0), EvolvedHidden()", "nn.Dropout(0.5)",
                     "nn.LazyLinear(1000), EvolvedOutput()", "nn.Linear(1000, 10)"] {
            #expect(text.contains(line), "\(line)")
        }
        guard Self.torchAvailable else { return }
        let script = """
        import sys, torch
        sys.path.insert(0, sys.argv[1])
        import activations as a
        net = a.study2_cnn().eval()
        print(tuple(net(torch.zeros(2, 1, 28, 28)).shape))
        """
        let output = try Self.python(script, folder: folder)
        #expect(output.trimmingCharacters(in: .whitespacesAndNewlines) == "(2, 10)")
    }
}
