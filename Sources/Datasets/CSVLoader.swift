import Foundation

/// Whether the first line of a CSV file names the columns.
public enum CSVHeader: String, Sendable, CaseIterable {
    /// A first line is a header when one of its cells is text while the rows below hold numbers in that
    /// column, or when all its cells are text values that never appear again in their columns.
    case auto
    case present
    case absent
}

/// Which column holds the class.
public enum LabelColumn: Sendable, Equatable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral {
    case last
    /// 0-based; negative counts from the end (-1 is the last column).
    case index(Int)
    case name(String)

    public init(stringLiteral value: String) { self = .name(value) }
    public init(integerLiteral value: Int) { self = .index(value) }

    /// Parses a command-line value: an integer is an index, `last` is the last column, anything else a name.
    public init(argument: String) {
        if argument == "last" { self = .last } else if let i = Int(argument) { self = .index(i) } else { self = .name(argument) }
    }
}

/// Comma- (or semicolon-, tab-) separated files with an optional header row.
public enum CSVLoader {
    public struct Options: Sendable {
        public var header: CSVHeader = .auto
        public var labelColumn: LabelColumn = .last
        public var missing: MissingValuePolicy = .reject
        /// nil: the first of `,` `;` tab that occurs in the first line.
        public var delimiter: UInt8?
        public init(header: CSVHeader = .auto, labelColumn: LabelColumn = .last, missing: MissingValuePolicy = .reject,
                    delimiter: UInt8? = nil) {
            self.header = header
            self.labelColumn = labelColumn
            self.missing = missing
            self.delimiter = delimiter
        }
    }

    /// Loads a `.csv` or gzipped `.csv.gz` file.
    public static func load(_ url: URL, options: Options = Options()) throws -> Dataset {
        let data = try Gzip.readMaybeCompressed(url)
        let table = try parse(data, path: url.path, options: options)
        let encoded = try TableEncoder.encode(table, missing: options.missing)
        return Dataset(name: url.lastPathComponent, source: url.path, encoded: encoded)
    }

    static func parse(_ data: Data, path: String, options: Options) throws -> RawTable {
        var cells = TextRows()
        var delimiter = options.delimiter
        TextSplitter.forEachLine(data) { line, bytes in
            if TextSplitter.isBlank(bytes) { return true }
            if delimiter == nil {
                delimiter = [UInt8(ascii: ","), UInt8(ascii: ";"), 0x09].first { bytes.contains($0) } ?? UInt8(ascii: ",")
            }
            cells.rows.append(TextSplitter.cells(bytes, delimiter: delimiter))
            cells.lines.append(line)
            return true
        }
        guard let first = cells.rows.first else { throw DatasetError.noRows(path: path) }
        let hasHeader: Bool
        switch options.header {
        case .present: hasHeader = true
        case .absent: hasHeader = false
        case .auto: hasHeader = looksLikeHeader(cells.rows)
        }
        var names: [String]
        if hasHeader {
            names = first.enumerated().map { $1.isEmpty ? "col\($0)" : $1 }
            cells.rows.removeFirst()
            cells.lines.removeFirst()
            guard !cells.rows.isEmpty else { throw DatasetError.noRows(path: path) }
        } else {
            names = (0..<first.count).map { "col\($0)" }
        }
        let label = try resolve(options.labelColumn, names: names, path: path)
        return RawTable(path: path, columnNames: names, declaredKinds: Array(repeating: nil, count: names.count),
                        cells: cells, labelColumn: label, declaredClasses: nil)
    }

    static func resolve(_ column: LabelColumn, names: [String], path: String) throws -> Int {
        switch column {
        case .last:
            return names.count - 1
        case .index(let i):
            let index = i < 0 ? names.count + i : i
            guard index >= 0 && index < names.count else {
                throw DatasetError.unknownLabelColumn(path: path, requested: String(i),
                                                      available: names.indices.map { "\($0) (\(names[$0]))" })
            }
            return index
        case .name(let name):
            guard let index = names.firstIndex(of: name) else {
                throw DatasetError.unknownLabelColumn(path: path, requested: name, available: names)
            }
            return index
        }
    }

    static func looksLikeHeader(_ rows: [[String]]) -> Bool {
        guard let first = rows.first else { return false }
        // A lone all-text line is a header over no rows (so the error says "no rows", not "one class").
        if rows.count == 1 { return first.allSatisfy { CellValue.number($0) == nil && !$0.isEmpty } }
        let sample = rows.dropFirst().prefix(50).filter { $0.count == first.count }
        guard !sample.isEmpty else { return false }
        for (column, cell) in first.enumerated() where CellValue.number(cell) == nil && !CellValue.isMissing(cell) {
            let below = sample.map { $0[column] }.filter { !CellValue.isMissing($0) }
            if !below.isEmpty && below.allSatisfy({ CellValue.number($0) != nil }) { return true }
        }
        let allText = first.allSatisfy { CellValue.number($0) == nil && !$0.isEmpty }
        if allText && Set(first).count == first.count {
            return first.enumerated().allSatisfy { column, cell in !sample.contains { $0[column] == cell } }
        }
        return false
    }
}
