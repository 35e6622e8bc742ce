import Foundation

/// Which menu functions the searches' winners use: for every depth and layer position, how many of the
/// chosen networks (the best trial of each random-search and TPE cell) put each function there.
///
/// Written beside the results table as `functions.md` (per depth, one row per function, one column per layer
/// position, functions by total count) and `functions.csv` (one line per depth, position, method and
/// function).
public struct AlaCarteFunctionUsage: Sendable, Equatable {
    public struct Count: Sendable, Equatable {
        public var layers: Int
        /// 0-based layer position; `layers - 1` is the output layer.
        public var position: Int
        public var method: AlaCarteMethod
        public var function: String
        public var count: Int
    }

    /// Sorted by depth, position, method, then count (highest first) and name.
    public var counts: [Count]

    public init(cells: [AlaCarteCellResult]) {
        var tally: [String: Count] = [:]
        for cell in cells where !cell.method.isBaseline {
            for (position, function) in cell.choices.enumerated() {
                let key = "\(cell.layers)\u{0}\(position)\u{0}\(cell.method.rawValue)\u{0}\(function)"
                tally[key, default: Count(layers: cell.layers, position: position, method: cell.method,
                                          function: function, count: 0)].count += 1
            }
        }
        let order = AlaCarteMethod.allCases
        counts = tally.values.sorted {
            ($0.layers, $0.position, order.firstIndex(of: $0.method)!, -$0.count, $0.function)
                < ($1.layers, $1.position, order.firstIndex(of: $1.method)!, -$1.count, $1.function)
        }
    }

    /// Per depth: each function's count per layer position over every search (random and TPE together).
    public func markdown() -> String {
        var lines: [String] = []
        for layers in Set(counts.map(\.layers)).sorted() {
            let atDepth = counts.filter { $0.layers == layers }
            var perFunction: [String: [Int]] = [:]
            for entry in atDepth {
                perFunction[entry.function, default: Array(repeating: 0, count: layers)][entry.position] += entry.count
            }
            let networks = atDepth.filter { $0.position == 0 }.reduce(0) { $0 + $1.count }
            let rows = perFunction.sorted { ($0.value.reduce(0, +), $1.key) > ($1.value.reduce(0, +), $0.key) }
            lines.append("### \(layers) layers (\(networks) chosen networks)")
            lines.append("")
            lines.append("| function | " + (1...layers).map { $0 == layers ? "out" : "L\($0)" }.joined(separator: " | ") + " | total |")
            lines.append("|---|" + String(repeating: "---:|", count: layers + 1))
            for (function, perPosition) in rows {
                let cells = perPosition.map { $0 == 0 ? "" : "\($0)" }
                lines.append("| \(function) | " + cells.joined(separator: " | ") + " | \(perPosition.reduce(0, +)) |")
            }
            lines.append("")
        }
        if lines.isEmpty { return "No searched cells.\n" }
        return lines.joined(separator: "\n")
    }

    public func csv() -> String {
        var lines = ["layers,position,method,function,count"]
        for entry in counts {
            lines.append("\(entry.layers),\(entry.position),\(entry.method.rawValue),"
                         + "\(AlaCarteExperimentTable.csvField(entry.function)),\(entry.count)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Writes `functions.md` and `functions.csv` into `folder`, atomically.
    @discardableResult
    public func write(to folder: URL) throws -> [URL] {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return try [("functions.md", markdown()), ("functions.csv", csv())].map { name, text in
            let url = folder.appendingPathComponent(name)
            try Data(text.utf8).write(to: url, options: .atomic)
            return url
        }
    }
}
