import Foundation

/// One cell group of the five-method table: a method on a dataset over its replicates.
public struct EvolutionMethodSummary: Codable, Sendable, Hashable {
    public var dataset: String
    public var method: EvolutionMethod
    /// Test accuracy at the last epoch of the final retraining, one per replicate.
    public var testAccuracies: [Double]
    /// Best validation fitness found by the search, one per replicate.
    public var searchFitness: [Double]
    /// The chosen functions of each replicate (input, hidden, output), printed.
    public var functions: [[String]]
    /// Approximate permutation test against Standard on the same dataset (|median difference|);
    /// nil for Standard itself or with fewer than two replicates per side.
    public var pValueVersusStandard: Double?

    public var mean: Double { testAccuracies.isEmpty ? .nan : testAccuracies.reduce(0, +) / Double(testAccuracies.count) }
    public var median: Double { Search.median(testAccuracies) ?? .nan }
}

/// The five-method experiment's outcome, with its three table renderings.
public struct EvolutionExperimentResult: Codable, Sendable {
    public var datasets: [String]
    public var methods: [EvolutionMethod]
    public var replicates: Int
    public var summaries: [EvolutionMethodSummary]
    /// Free text: sizes, epochs, generations, device — printed under the table.
    public var protocolNote: String

    public static let fileName = "experiment-evolution.json"

    public init(datasets: [String], methods: [EvolutionMethod], replicates: Int, summaries: [EvolutionMethodSummary], protocolNote: String) {
        self.datasets = datasets
        self.methods = methods
        self.replicates = replicates
        self.summaries = summaries
        self.protocolNote = protocolNote
    }

    public func summary(_ dataset: String, _ method: EvolutionMethod) -> EvolutionMethodSummary? {
        summaries.first { $0.dataset == dataset && $0.method == method }
    }

    /// `*` for p < 0.05, `**` for p < 0.001 (against Standard).
    static func mark(_ p: Double?) -> String {
        guard let p else { return "" }
        return p < 0.001 ? "**" : p < 0.05 ? "*" : ""
    }

    static func percent(_ v: Double) -> String { v.isFinite ? String(format: "%.2f", v * 100) : "–" }

    /// Markdown: one row per dataset, a mean / median column pair per method; marks on the median.
    public func markdown() -> String {
        var lines = ["| dataset | " + methods.map { "\($0.displayName) mean | \($0.displayName) median" }.joined(separator: " | ") + " |"]
        lines.append("|---|" + methods.map { _ in "---:|---:" }.joined(separator: "|") + "|")
        for dataset in datasets {
            let cells = methods.map { method -> String in
                guard let s = summary(dataset, method) else { return "– | –" }
                return "\(Self.percent(s.mean)) | \(Self.percent(s.median))\(Self.mark(s.pValueVersusStandard))"
            }
            lines.append("| \(dataset) | " + cells.joined(separator: " | ") + " |")
        }
        lines.append("")
        lines.append("Test accuracy (%) at the last epoch of the final retraining on Train1 ∪ Train2, \(replicates) replicate(s). "
                     + "Marks: permutation test of the median against Standard, * p < 0.05, ** p < 0.001.")
        lines.append("")
        lines.append(protocolNote)
        return lines.joined(separator: "\n") + "\n"
    }

    /// CSV: one row per dataset × method, with every replicate's accuracy.
    public func csv() -> String {
        var lines = ["dataset,method,replicates,mean_test_accuracy,median_test_accuracy,p_value_vs_standard,test_accuracies"]
        for s in summaries {
            let p = s.pValueVersusStandard.map { String($0) } ?? ""
            let all = s.testAccuracies.map { String($0) }.joined(separator: ";")
            lines.append("\(Self.csvField(s.dataset)),\(s.method.rawValue),\(s.testAccuracies.count),\(s.mean),\(s.median),\(p),\(all)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func csvField(_ text: String) -> String {
        text.contains(",") || text.contains("\"") ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
    }

    /// LaTeX `tabular` (booktabs): medians, marks as superscripts.
    public func latex() -> String {
        var lines = ["\\begin{tabular}{l" + String(repeating: "r", count: methods.count) + "}", "\\toprule"]
        lines.append("Dataset & " + methods.map { $0.displayName }.joined(separator: " & ") + " \\\\")
        lines.append("\\midrule")
        for dataset in datasets {
            let cells = methods.map { method -> String in
                guard let s = summary(dataset, method) else { return "--" }
                let mark = Self.mark(s.pValueVersusStandard)
                return Self.percent(s.median) + (mark.isEmpty ? "" : "$^{\(mark)}$")
            }
            lines.append(Self.latexEscape(dataset) + " & " + cells.joined(separator: " & ") + " \\\\")
        }
        lines += ["\\bottomrule", "\\end{tabular}"]
        return lines.joined(separator: "\n") + "\n"
    }

    static func latexEscape(_ text: String) -> String {
        text.replacingOccurrences(of: "\\", with: "\\textbackslash{}").replacingOccurrences(of: "_", with: "\\_")
            .replacingOccurrences(of: "&", with: "\\&").replacingOccurrences(of: "%", with: "\\%")
    }

    /// Writes the JSON and the three tables into `folder` (each atomically).
    public func write(to folder: URL) throws {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        try encoder.encode(self).write(to: folder.appendingPathComponent(Self.fileName), options: .atomic)
        try Data(markdown().utf8).write(to: folder.appendingPathComponent("experiment-evolution.md"), options: .atomic)
        try Data(csv().utf8).write(to: folder.appendingPathComponent("experiment-evolution.csv"), options: .atomic)
        try Data(latex().utf8).write(to: folder.appendingPathComponent("experiment-evolution.tex"), options: .atomic)
    }

    public static func read(from folder: URL) throws -> EvolutionExperimentResult? {
        guard let data = FileManager.default.contents(atPath: folder.appendingPathComponent(fileName).path) else { return nil }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do { return try decoder.decode(EvolutionExperimentResult.self, from: data) } catch {
            throw EvolutionError.corruptCheckpoint("\(folder.appendingPathComponent(fileName).path): \(JSONFileProblem.describe(error)); "
                                                   + "expected the \(fileName) that afsearch experiment evolution writes")
        }
    }
}
