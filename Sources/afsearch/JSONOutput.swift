import Foundation

/// What every `--json` prints: keys sorted, slashes as written (paths, dataset names, OpenCL source), dates
/// as ISO 8601, and nan/inf/-inf as strings (a diverged run still prints). Pretty by default; `.line` puts a
/// value on one line, as `bench` and `train` print, so that results files can hold one run per line.
enum JSONOutput {
    enum Layout { case pretty, line }

    static func string<T: Encodable>(_ value: T, layout: Layout = .pretty) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = layout == .pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            : [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func print<T: Encodable>(_ value: T, layout: Layout = .pretty) throws {
        Swift.print(try string(value, layout: layout))
    }
}
