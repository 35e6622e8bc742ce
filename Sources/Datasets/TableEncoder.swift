import Foundation

/// What to do with a missing cell (`?`, empty, `<null>`, `NA`).
public enum MissingValuePolicy: String, Sendable, CaseIterable {
    /// Stop with an error naming the file, line and column.
    case reject
    /// Numeric columns: the mean of the column's present values; categorical columns: the most frequent
    /// level. The statistics come from the whole file (before any split), so a test row's values take a
    /// (small) part in the fill value of the training rows; use `reject` and clean the data where that matters.
    case mean
}

/// A column's type as a file header declares it, or as inferred from the cells.
public enum ColumnKind: Sendable, Equatable {
    case numeric
    /// One-hot encoded in `levels` order.
    case categorical(levels: [String])
}

/// A parsed table before encoding: cells as text, column names, optional declared kinds and classes.
struct RawTable {
    var path: String
    var columnNames: [String]
    var declaredKinds: [ColumnKind?]
    var cells: TextRows
    var labelColumn: Int
    /// Class names in the order the header declares them, if it does.
    var declaredClasses: [String]?
}

/// A table encoded for training: numeric columns as they are, categorical columns one-hot, labels as class
/// indices.
struct EncodedTable {
    var data: LabeledData
    var classNames: [String]
    var featureNames: [String]
    var columnKinds: [ColumnKind]
    var warnings: [String]
}

enum TableEncoder {
    static func encode(_ table: RawTable, missing: MissingValuePolicy) throws -> EncodedTable {
        let path = table.path
        let rows = table.cells.rows
        let lines = table.cells.lines
        guard !rows.isEmpty else { throw DatasetError.noRows(path: path) }
        let width = table.columnNames.count
        for (row, line) in zip(rows, lines) where row.count != width {
            throw DatasetError.malformedRow(path: path, line: line,
                detail: "expected \(width) comma-separated values, found \(row.count)")
        }
        guard table.labelColumn >= 0 && table.labelColumn < width else {
            throw DatasetError.invalidArgument("\(path): label column index \(table.labelColumn) is outside 0..<\(width)")
        }
        var warnings: [String] = []

        // Labels.
        let labelName = "'\(table.columnNames[table.labelColumn])'"
        var labelCells: [String] = []
        labelCells.reserveCapacity(rows.count)
        for (row, line) in zip(rows, lines) {
            let cell = row[table.labelColumn]
            if CellValue.isMissing(cell) { throw DatasetError.missingLabel(path: path, line: line) }
            labelCells.append(cell)
        }
        let classNames = try classOrder(labelCells, declared: table.declaredClasses, path: path, lines: lines)
        guard classNames.count >= 2 else {
            throw DatasetError.singleClass(path: path, column: labelName, label: classNames.first ?? "")
        }
        if classNames.count > 20 && classNames.count * 2 > rows.count {
            warnings.append("\(path): the label column \(labelName) has \(classNames.count) distinct values in \(rows.count) rows; "
                + "each is a class (is this a regression target, or the wrong label column?)")
        }
        let classIndex = Dictionary(uniqueKeysWithValues: classNames.enumerated().map { ($1, Int32($0)) })
        let labels = labelCells.map { classIndex[$0]! }

        // Features: one pass per column decides its kind and fill value, a second writes the matrix.
        let featureColumns = (0..<width).filter { $0 != table.labelColumn }
        var kinds: [ColumnKind] = []
        var fills: [String?] = []
        var featureNames: [String] = []
        for column in featureColumns {
            let name = table.columnNames[column]
            let (kind, fill) = try resolveColumn(column, name: name, declared: table.declaredKinds[column],
                                                 rows: rows, lines: lines, path: path, missing: missing)
            kinds.append(kind)
            fills.append(fill)
            switch kind {
            case .numeric: featureNames.append(name)
            case .categorical(let levels): featureNames += levels.map { "\(name)=\($0)" }
            }
            if let constant = constantValue(column, rows: rows, fill: fill) {
                warnings.append("\(path): feature '\(name)' is constant ('\(constant)' in every row); kept, but it carries no information")
            }
        }
        let featureCount = featureNames.count
        var features = [Float](repeating: 0, count: rows.count * featureCount)
        let levelIndex: [[String: Int]] = kinds.map {
            if case .categorical(let levels) = $0 {
                return Dictionary(uniqueKeysWithValues: levels.enumerated().map { ($1, $0) })
            }
            return [:]
        }
        for (r, row) in rows.enumerated() {
            var offset = r * featureCount
            for (f, column) in featureColumns.enumerated() {
                var cell = row[column]
                if CellValue.isMissing(cell), let fill = fills[f] { cell = fill }
                switch kinds[f] {
                case .numeric:
                    features[offset] = Float(CellValue.number(cell)!)
                    offset += 1
                case .categorical(let levels):
                    features[offset + levelIndex[f][cell]!] = 1
                    offset += levels.count
                }
            }
        }
        let data = LabeledData(features: features, labels: labels, featureCount: featureCount,
                               classCount: classNames.count)
        return EncodedTable(data: data, classNames: classNames, featureNames: featureNames, columnKinds: kinds,
                            warnings: warnings)
    }

    /// Declared order when the header gives one; otherwise numeric labels by value (so "2" < "10"), text
    /// labels alphabetically, which makes class indices independent of row order.
    static func classOrder(_ cells: [String], declared: [String]?, path: String, lines: [Int]) throws -> [String] {
        let present = Set(cells)
        if let declared {
            if let (i, bad) = cells.enumerated().first(where: { !declared.contains($0.element) }) {
                throw DatasetError.malformedRow(path: path, line: lines[i],
                    detail: "label '\(bad)' is not one of the declared classes {\(declared.joined(separator: ", "))}")
            }
            // Declared but absent classes are dropped: a class with no rows cannot be learned or scored.
            return declared.filter { present.contains($0) }
        }
        let values = present.map { ($0, CellValue.number($0)) }
        if values.allSatisfy({ $0.1 != nil }) {
            return values.sorted { $0.1! < $1.1! }.map(\.0)
        }
        return present.sorted()
    }

    /// The kind of one feature column and, when missing cells are imputed, the text that fills them.
    private static func resolveColumn(_ column: Int, name: String, declared: ColumnKind?, rows: [[String]],
                                      lines: [Int], path: String, missing: MissingValuePolicy)
        throws -> (ColumnKind, String?) {
        var firstNumber: (String, Int)?
        var firstText: (String, Int)?
        var firstMissingLine: Int?
        var sum = 0.0
        var numericCount = 0
        var levelCounts: [String: Int] = [:]
        var countNumericLevels = false
        if case .categorical? = declared { countNumericLevels = true }
        for (row, line) in zip(rows, lines) {
            let cell = row[column]
            if CellValue.isMissing(cell) {
                if firstMissingLine == nil { firstMissingLine = line }
                continue
            }
            if let value = CellValue.number(cell) {
                if firstNumber == nil { firstNumber = (cell, line) }
                sum += value
                numericCount += 1
                // Levels are counted only where the column may be categorical (a hash per cell is the
                // dominant cost on wide numeric files such as MNIST-5k).
                if countNumericLevels { levelCounts[cell, default: 0] += 1 }
            } else {
                if firstText == nil { firstText = (cell, line) }
                levelCounts[cell, default: 0] += 1
            }
        }
        let kind: ColumnKind
        switch declared {
        case .numeric?:
            if let (text, line) = firstText {
                throw DatasetError.malformedRow(path: path, line: line,
                    detail: "column '\(name)' is declared numeric but holds '\(text)'")
            }
            kind = .numeric
        case .categorical(let levels)?:
            let allowed = Set(levels)
            if let (i, row) = rows.enumerated().first(where: { !CellValue.isMissing($0.element[column]) && !allowed.contains($0.element[column]) }) {
                throw DatasetError.malformedRow(path: path, line: lines[i],
                    detail: "column '\(name)' holds '\(row[column])', which is not one of its declared values {\(levels.joined(separator: ", "))}")
            }
            kind = .categorical(levels: levels)
        case nil:
            if let (number, numberLine) = firstNumber, let (text, textLine) = firstText {
                throw DatasetError.mixedColumn(path: path, column: "'\(name)'", numericExample: number,
                                               numericLine: numberLine, textExample: text, textLine: textLine)
            }
            if firstNumber != nil {
                kind = .numeric
            } else {
                kind = .categorical(levels: levelCounts.keys.sorted())
            }
        }
        guard let missingLine = firstMissingLine else { return (kind, nil) }
        guard missing == .mean else {
            throw DatasetError.missingValue(path: path, line: missingLine, column: "'\(name)'")
        }
        switch kind {
        case .numeric:
            guard numericCount > 0 else {
                throw DatasetError.malformedRow(path: path, line: missingLine,
                    detail: "column '\(name)' has no values at all, so there is no mean to impute")
            }
            return (kind, String(sum / Double(numericCount)))
        case .categorical(let levels):
            // Most frequent level; ties go to the first in level order so the result does not depend on hashing.
            guard let mode = levels.max(by: { (levelCounts[$0] ?? 0) < (levelCounts[$1] ?? 0) }),
                  (levelCounts[mode] ?? 0) > 0 else {
                throw DatasetError.malformedRow(path: path, line: missingLine,
                    detail: "column '\(name)' has no values at all, so there is no level to impute")
            }
            let best = levelCounts[mode]!
            return (kind, levels.first { levelCounts[$0] == best }!)
        }
    }

    private static func constantValue(_ column: Int, rows: [[String]], fill: String?) -> String? {
        var first: String?
        for row in rows {
            var cell = row[column]
            if CellValue.isMissing(cell), let fill { cell = fill }
            if let first, first != cell {
                // "1" and "1.0" are the same number.
                if let a = CellValue.number(first), let b = CellValue.number(cell), a == b { continue }
                return nil
            }
            if first == nil { first = cell }
        }
        return first
    }
}
