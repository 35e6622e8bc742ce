import Foundation

/// The run folder: one sub-folder per study, `<root>/<study>/study.sqlite`, plus whatever reports the
/// study writes beside its database.
public struct StudyCatalog: Sendable {
    public static let databaseFileName = "study.sqlite"
    public let root: URL

    /// `root` defaults to `$AFSEARCH_RUNS` or `./runs`.
    public init(root: URL? = nil) {
        if let root {
            self.root = root
        } else if let env = ProcessInfo.processInfo.environment["AFSEARCH_RUNS"], !env.isEmpty {
            self.root = URL(fileURLWithPath: env)
        } else {
            self.root = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("runs")
        }
    }

    public func folder(of study: String) -> URL { root.appendingPathComponent(study, isDirectory: true) }

    public func databasePath(of study: String) -> String {
        folder(of: study).appendingPathComponent(Self.databaseFileName).path
    }

    public func exists(_ study: String) -> Bool {
        FileManager.default.fileExists(atPath: databasePath(of: study))
    }

    /// Study names are folder names: letters, digits, `-`, `_`, `.` (not leading), at most 100 characters.
    public static func validate(name: String) throws {
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-_."))
        guard !name.isEmpty, name.count <= 100, !name.hasPrefix("."),
              name.unicodeScalars.allSatisfy({ allowed.contains($0) && $0.isASCII })
        else {
            throw CatalogError.badName(name)
        }
    }

    /// Opens the study's database, creating its folder and file when `create` is true.
    public func open(_ study: String, create: Bool) throws -> SQLiteStudyStore {
        try Self.validate(name: study)
        if !create && !exists(study) { throw CatalogError.noSuchStudy(study, root: root.path, known: names()) }
        return try SQLiteStudyStore(path: databasePath(of: study), studyName: study)
    }

    /// Opens an existing study for reading only (`studies`, `show`, `report`): creates and changes nothing.
    public func openForReading(_ study: String) throws -> SQLiteStudyStore {
        try Self.validate(name: study)
        if !exists(study) { throw CatalogError.noSuchStudy(study, root: root.path, known: names()) }
        return try SQLiteStudyStore(readingPath: databasePath(of: study), studyName: study)
    }

    /// Names of the studies under the root, sorted.
    public func names() -> [String] {
        let contents = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return contents.filter { exists($0) }.sorted()
    }

    /// A one-line overview per study, read without writing anything. A study whose database cannot be read
    /// is listed with `error` set; the others are listed as usual.
    public func summaries() -> [StudySummary] {
        (try? StudyStorage.folder(self).summaries()) ?? []
    }

    public enum CatalogError: Error, CustomStringConvertible {
        case badName(String)
        case noSuchStudy(String, root: String, known: [String])

        public var description: String {
            switch self {
            case let .badName(name):
                return "study name '\(name)' is not valid: expected letters, digits, '-', '_' or '.' "
                    + "(not leading), at most 100 characters"
            case let .noSuchStudy(name, root, known):
                let list = known.isEmpty ? "none" : known.joined(separator: ", ")
                return "no study '\(name)' under \(root) (known: \(list))"
            }
        }
    }
}

public struct StudySummary: Sendable, Codable, Equatable {
    public var name: String
    public var kind: String?
    public var trialCount: Int
    public var finishedCount: Int
    public var divergedCount: Int
    public var bestObjective: Double?
    public var bestTestAccuracy: Double?
    public var lastActivity: Date?
    /// Why the study's database could not be read (nil when it could).
    public var error: String? = nil
}

extension StudySummary {
    public init(name: String, store: any StudyStore) throws {
        let all = try store.trials(states: nil, group: nil)
        let finished = all.filter { $0.state.isFinished }
        let best = try store.bestTrials(limit: 1).first
        self.init(name: name, kind: try store.kind(), trialCount: all.count, finishedCount: finished.count,
                  divergedCount: finished.filter { $0.state == .diverged }.count,
                  bestObjective: best?.objective, bestTestAccuracy: best?.testAccuracy,
                  lastActivity: finished.compactMap(\.finishedAt).max())
    }
}
