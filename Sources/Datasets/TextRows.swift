import Foundation

/// The cells of a delimited text file, each row with its 1-based line number in the file.
struct TextRows {
    var rows: [[String]] = []
    var lines: [Int] = []
}

/// Byte-level splitting of text files into lines and cells. Works on bytes, not `Character`s, because the
/// large files here (MNIST-5k: 5,000 × 785 cells) are plain ASCII and grapheme breaking would dominate.
enum TextSplitter {
    /// Calls `body(lineNumber, bytesOfLine)` for every line, without its `\n` or `\r\n`.
    static func forEachLine(_ data: Data, _ body: (Int, ArraySlice<UInt8>) throws -> Bool) rethrows {
        let bytes = [UInt8](data)
        // A UTF-8 byte-order mark (spreadsheet exports) is not part of the first cell.
        var start = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        var lineNumber = 1
        var index = start
        while index <= bytes.count {
            if index == bytes.count || bytes[index] == UInt8(ascii: "\n") {
                var end = index
                if end > start && bytes[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                if index < bytes.count || end > start {
                    if try !body(lineNumber, bytes[start..<end]) { return }
                }
                lineNumber += 1
                start = index + 1
            }
            index += 1
        }
    }

    static func isBlank(_ line: ArraySlice<UInt8>) -> Bool {
        line.allSatisfy { $0 == 0x20 || $0 == 0x09 }
    }

    /// Splits one line into trimmed cells. A cell may be quoted with `"` or `'` (a doubled quote inside is a
    /// literal quote); quotes are removed. `delimiter` nil splits on runs of spaces/tabs (no quoting).
    static func cells(_ line: ArraySlice<UInt8>, delimiter: UInt8?) -> [String] {
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 }
        let end = line.endIndex
        var result: [String] = []
        var index = line.startIndex
        guard let delimiter else {
            while index < end {
                while index < end && isSpace(line[index]) { index += 1 }
                let start = index
                while index < end && !isSpace(line[index]) { index += 1 }
                if index > start { result.append(String(decoding: line[start..<index], as: UTF8.self)) }
            }
            return result
        }
        var cell: [UInt8] = []
        while true {
            while index < end && isSpace(line[index]) { index += 1 }
            cell.removeAll(keepingCapacity: true)
            if index < end && (line[index] == UInt8(ascii: "\"") || line[index] == UInt8(ascii: "'")) {
                let quote = line[index]
                index += 1
                while index < end {
                    if line[index] == quote {
                        if index + 1 < end && line[index + 1] == quote { cell.append(quote); index += 2; continue }
                        index += 1
                        break
                    }
                    cell.append(line[index])
                    index += 1
                }
                while index < end && line[index] != delimiter { index += 1 }
                result.append(String(decoding: cell, as: UTF8.self))
            } else {
                // Unquoted: decode the trimmed byte range directly, no intermediate copy.
                let start = index
                while index < end && line[index] != delimiter { index += 1 }
                var stop = index
                while stop > start && isSpace(line[stop - 1]) { stop -= 1 }
                result.append(String(decoding: line[start..<stop], as: UTF8.self))
            }
            if index >= end { break }
            index += 1  // past the delimiter
        }
        return result
    }
}

/// Parsing of one cell as a number, and the spellings of a missing value.
enum CellValue {
    /// `?` (KEEL, ARFF, UCI), empty, `<null>` (KEEL), `NA`/`NaN` (R/pandas exports).
    static func isMissing(_ cell: String) -> Bool {
        cell.isEmpty || cell == "?" || cell == "<null>" || cell == "NA" || cell == "NaN" || cell == "nan"
    }

    /// A finite decimal number, or nil. `Double(String)` also accepts "inf" and hex floats; only finite
    /// values count as numbers here so that a text level such as "inf" is not silently read as ∞.
    static func number(_ cell: String) -> Double? {
        guard let first = cell.utf8.first, first == UInt8(ascii: "-") || first == UInt8(ascii: "+")
            || first == UInt8(ascii: ".") || (first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9")) else { return nil }
        guard let value = Double(cell), value.isFinite else { return nil }
        return value
    }
}
