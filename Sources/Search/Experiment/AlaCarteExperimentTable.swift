import Foundation

/// The arms of study 1's experiment.
public enum AlaCarteMethod: String, Codable, Sendable, CaseIterable {
    /// ReLU on every hidden layer, no activation on the output layer (softmax lives in the cross-entropy):
    /// the network a practitioner would train, and the baseline of every significance mark.
    case standard
    /// Study 1's own standard network: ReLU on every hidden layer and softmax on the output layer, followed
    /// by the cross-entropy's softmax (softmax applied twice, as the study's code does).
    case standardSoftmax = "standard-softmax"
    case random
    case tpe

    /// The two fixed networks, which every search is compared with.
    public var isBaseline: Bool { self == .standard || self == .standardSoftmax }

    /// Whether the table tests this method against `baseline`: every other method against the standard
    /// network, the searches against study 1's.
    public func isCompared(against baseline: AlaCarteMethod) -> Bool {
        baseline == .standard ? self != .standard : !isBaseline
    }
}

/// One finished cell: a method on one replicate of one dataset at one depth.
public struct AlaCarteCellResult: Codable, Sendable, Equatable {
    public var dataset: String
    public var layers: Int
    public var replicate: Int
    public var method: AlaCarteMethod
    public var testAccuracy: Double
    /// The search objective of the chosen network (validation accuracy by default).
    public var objective: Double
    public var choices: [String]
}

/// One table row: a dataset at one depth, over all replicates.
public struct AlaCarteTableRow: Codable, Sendable, Equatable {
    public var dataset: String
    public var layers: Int
    public var replicates: Int
    public var medianTest: [AlaCarteMethod: Double]
    /// Permutation test of each other method against the standard network.
    public var versusStandard: [AlaCarteMethod: PermutationTest.Result]
    /// Permutation test of each searched method against study 1's standard network (softmax output), when
    /// the experiment ran it.
    public var versusPaperStandard: [AlaCarteMethod: PermutationTest.Result] = [:]

    /// The tests against `baseline`.
    public func tests(against baseline: AlaCarteMethod) -> [AlaCarteMethod: PermutationTest.Result] {
        baseline == .standardSoftmax ? versusPaperStandard : versusStandard
    }
}

public enum Outcome: String, Codable, Sendable { case win, tie, loss }

/// Study 1's table: median test accuracy per method, significance marks against the standard network,
/// and the tally of wins, ties and losses. A win (loss) is a higher (lower) median with p < 0.05; anything
/// else is a tie.
public struct AlaCarteExperimentTable: Sendable, Equatable {
    public var rows: [AlaCarteTableRow]
    public var methods: [AlaCarteMethod]

    public init(cells: [AlaCarteCellResult], methods: [AlaCarteMethod], test: PermutationTest = PermutationTest()) {
        self.methods = methods
        var order: [String] = []
        var groups: [String: [AlaCarteCellResult]] = [:]
        for cell in cells {
            let key = "\(cell.dataset)\u{0}\(cell.layers)"
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(cell)
        }
        rows = order.map { key in
            let group = groups[key]!
            var medians: [AlaCarteMethod: Double] = [:]
            var samples: [AlaCarteMethod: [Double]] = [:]
            for method in methods {
                let values = group.filter { $0.method == method }.map(\.testAccuracy)
                samples[method] = values
                medians[method] = median(values)
            }
            func tests(against baseline: AlaCarteMethod, of compared: [AlaCarteMethod]) -> [AlaCarteMethod: PermutationTest.Result] {
                guard let reference = samples[baseline], !reference.isEmpty else { return [:] }
                var tests: [AlaCarteMethod: PermutationTest.Result] = [:]
                for method in compared {
                    if let values = samples[method], !values.isEmpty { tests[method] = test.test(values, reference) }
                }
                return tests
            }
            return AlaCarteTableRow(dataset: group[0].dataset, layers: group[0].layers,
                                    replicates: Set(group.map(\.replicate)).count, medianTest: medians,
                                    versusStandard: tests(against: .standard, of: methods.filter { $0.isCompared(against: .standard) }),
                                    versusPaperStandard: tests(against: .standardSoftmax, of: methods.filter { $0.isCompared(against: .standardSoftmax) }))
        }
    }

    /// The baselines this table compares with: the standard network, and study 1's when it ran.
    public var baselines: [AlaCarteMethod] { methods.filter(\.isBaseline) }

    /// A win (loss) is a higher (lower) median than `baseline`'s with p < 0.05; anything else is a tie.
    public func outcome(_ row: AlaCarteTableRow, _ method: AlaCarteMethod, against baseline: AlaCarteMethod = .standard) -> Outcome? {
        guard let result = row.tests(against: baseline)[method], let m = row.medianTest[method],
              let s = row.medianTest[baseline] else { return nil }
        guard result.pValue < 0.05 else { return .tie }
        return m > s ? .win : (m < s ? .loss : .tie)
    }

    /// Wins, ties and losses of each method against `baseline` (the standard network by default).
    public func tally(against baseline: AlaCarteMethod = .standard) -> [(method: AlaCarteMethod, wins: Int, ties: Int, losses: Int)] {
        methods.filter { $0.isCompared(against: baseline) }.map { method in
            let outcomes = rows.compactMap { outcome($0, method, against: baseline) }
            return (method, outcomes.filter { $0 == .win }.count, outcomes.filter { $0 == .tie }.count,
                    outcomes.filter { $0 == .loss }.count)
        }
    }

    /// `†` for p < 0.05 and `‡` for p < 0.001 against study 1's standard network.
    static func paperMark(_ result: PermutationTest.Result?) -> String {
        guard let result else { return "" }
        return result.pValue < 0.001 ? "‡" : (result.pValue < 0.05 ? "†" : "")
    }

    private func percent(_ value: Double?) -> String { value.map { String(format: "%.2f", $0 * 100) } ?? "–" }

    public func markdown() -> String {
        var lines = ["| dataset | L | n | " + methods.map(\.rawValue).joined(separator: " | ") + " |",
                     "|---|---:|---:|" + methods.map { _ in "---:|" }.joined()]
        for row in rows {
            let cells = methods.map { method in
                percent(row.medianTest[method]) + (row.versusStandard[method]?.mark ?? "")
                    + Self.paperMark(row.versusPaperStandard[method])
            }
            lines.append("| \(row.dataset) | \(row.layers) | \(row.replicates) | " + cells.joined(separator: " | ") + " |")
        }
        lines.append("")
        lines.append("Median test accuracy (%) over n replicates. * p < 0.05, ** p < 0.001: permutation test "
                     + "(|median difference|, 10,000 rounds or exact) against the standard network (ReLU, no output activation)"
                     + (methods.contains(.standardSoftmax)
                        ? "; † p < 0.05, ‡ p < 0.001: the same test against study 1's standard network (ReLU, softmax output)." : "."))
        for baseline in baselines {
            lines.append("")
            for entry in tally(against: baseline) {
                lines.append("\(entry.method.rawValue) vs \(baseline.rawValue): \(entry.wins) wins, \(entry.ties) ties, \(entry.losses) losses")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    public func csv() -> String {
        var header = ["dataset", "layers", "replicates"]
        for method in methods {
            header.append("median_test_\(method.rawValue)")
            if method != .standard { header += ["p_\(method.rawValue)_vs_standard", "exact_\(method.rawValue)"] }
            if !method.isBaseline && methods.contains(.standardSoftmax) { header.append("p_\(method.rawValue)_vs_standard-softmax") }
        }
        var lines = [header.joined(separator: ",")]
        for row in rows {
            var fields = [Self.csvField(row.dataset), "\(row.layers)", "\(row.replicates)"]
            for method in methods {
                fields.append(row.medianTest[method].map { String($0) } ?? "")
                if method != .standard {
                    let result = row.versusStandard[method]
                    fields += [result.map { String($0.pValue) } ?? "", result.map { String($0.exact) } ?? ""]
                }
                if !method.isBaseline && methods.contains(.standardSoftmax) {
                    fields.append(row.versusPaperStandard[method].map { String($0.pValue) } ?? "")
                }
            }
            lines.append(fields.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func csvField(_ text: String) -> String {
        text.contains(where: { ",\"\n".contains($0) }) ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
    }

    static func latexEscape(_ text: String) -> String {
        var out = ""
        for ch in text {
            switch ch {
            case "_", "%", "&", "#", "$", "{", "}": out += "\\\(ch)"
            case "\\": out += "\\textbackslash{}"
            case "~": out += "\\textasciitilde{}"
            case "^": out += "\\textasciicircum{}"
            default: out.append(ch)
            }
        }
        return out
    }

    public func latex() -> String {
        var lines = ["\\begin{tabular}{lrr" + String(repeating: "r", count: methods.count) + "}", "\\hline",
                     "dataset & $L$ & $n$ & " + methods.map(\.rawValue).joined(separator: " & ") + " \\\\", "\\hline"]
        for row in rows {
            let cells = methods.map { method -> String in
                let mark = (row.versusStandard[method]?.mark ?? "")
                    + Self.paperMark(row.versusPaperStandard[method]).replacingOccurrences(of: "†", with: "\\dagger")
                    .replacingOccurrences(of: "‡", with: "\\ddagger")
                return percent(row.medianTest[method]) + (mark.isEmpty ? "" : "$^{\(mark)}$")
            }
            lines.append("\(Self.latexEscape(row.dataset)) & \(row.layers) & \(row.replicates) & "
                         + cells.joined(separator: " & ") + " \\\\")
        }
        lines += ["\\hline", "\\end{tabular}"]
        return lines.joined(separator: "\n") + "\n"
    }

    /// Writes `table.md`, `table.csv` and `table.tex` into `folder`, each through a temporary file and a
    /// rename so that a reader never sees half a table.
    public func write(to folder: URL) throws -> [URL] {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return try [("table.md", markdown()), ("table.csv", csv()), ("table.tex", latex())].map { name, text in
            let url = folder.appendingPathComponent(name)
            try Data(text.utf8).write(to: url, options: .atomic)
            return url
        }
    }
}
