import Foundation
@testable import Datasets

/// Locates Tests/Fixtures/datasets from this source file (no bundle resources) and makes temp folders.
enum Fixtures {
    static let folder: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/datasets", isDirectory: true)

    static func url(_ name: String) -> URL { folder.appendingPathComponent(name) }
    static func path(_ name: String) -> String { url(name).path }

    static func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("afsearch-datasets-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// The message of the `DatasetError` thrown by `body`, or nil if it did not throw one.
    static func message(_ body: () throws -> Any) -> String? {
        do { _ = try body(); return nil } catch let error as DatasetError { return error.description } catch { return "\(error)" }
    }

    /// Rows of `data` as arrays, for readable comparisons.
    static func matrix(_ data: LabeledData) -> [[Float]] {
        (0..<data.rowCount).map { Array(data.features[($0 * data.featureCount)..<(($0 + 1) * data.featureCount)]) }
    }
}
