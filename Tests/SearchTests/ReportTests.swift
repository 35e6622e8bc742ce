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
