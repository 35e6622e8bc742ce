import Foundation

/// Where studies live, from `--storage`:
/// - nothing: the runs folder, one SQLite file per study (`runs/<study>/study.sqlite`), the default;
/// - `sqlite:PATH`: one SQLite file, which holds the one study written to it;
/// - `postgresql://[user[:password]@]host[:port]/database[?sslmode=require…]` (or `postgres://`): a PostgreSQL
///   database holding any number of studies, which workers on any machine share.
///
/// Credentials are libpq's business: the URL, the `PG*` variables or `~/.pgpass`. `description` never shows
/// a password, and no store writes the URL anywhere.
public enum StudyStorage: Sendable, CustomStringConvertible {
    case folder(StudyCatalog)
    case sqliteFile(path: String)
    case postgres(url: String)

    /// Parses `--storage`; `nil` is the runs folder `runs` (or `$AFSEARCH_RUNS`, else ./runs).
    public init(_ text: String?, runs: URL? = nil) throws {
        guard let text, !text.isEmpty else {
            self = .folder(StudyCatalog(root: runs))
            return
        }
        if text.hasPrefix("postgresql://") || text.hasPrefix("postgres://") {
            guard URLComponents(string: text) != nil else { throw StorageError.badURL(Self.redact(text)) }
            self = .postgres(url: text)
        } else if text.hasPrefix("sqlite:") {
            var path = String(text.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path = String(path.dropFirst(2)) }  // sqlite:///abs/path
            guard !path.isEmpty else { throw StorageError.badURL(text) }
            self = .sqliteFile(path: (path as NSString).expandingTildeInPath)
        } else {
            throw StorageError.badURL(Self.redact(text))
        }
    }

    public var isShared: Bool { if case .postgres = self { return true } else { return false } }

    public var description: String {
        switch self {
        case let .folder(catalog): return catalog.root.path
        case let .sqliteFile(path): return "sqlite:\(path)"
        case let .postgres(url): return Self.redact(url)
        }
    }

    /// The URL without its password (and without query parameters other than sslmode).
    public static func redact(_ url: String) -> String {
        guard var components = URLComponents(string: url) else {
            // Unparseable: keep the scheme only, never the rest (it may hold a password).
            return (url.split(separator: ":").first.map(String.init) ?? "storage") + "://…"
        }
        if components.password != nil { components.password = "***" }
        components.queryItems = components.queryItems?.filter { $0.name == "sslmode" }
        if components.queryItems?.isEmpty == true { components.queryItems = nil }
        return components.string ?? "postgresql://…"
    }

    /// Opens the study `name` for writing; `create` makes it when missing.
    public func open(_ name: String, create: Bool) throws -> any StudyStore {
        try StudyCatalog.validate(name: name)
        switch self {
        case let .folder(catalog):
            return try catalog.open(name, create: create)
        case let .sqliteFile(path):
            if !create && !FileManager.default.fileExists(atPath: path) {
                throw StudyStoreError.noSuchStudy(study: name, location: description, known: [])
            }
            return try SQLiteStudyStore(path: path, studyName: name)
        case let .postgres(url):
            return try PostgresStudyStore(url: url, studyName: name, create: create)
        }
    }

    /// Opens an existing study for reading (`show`, `report`, `export`): a SQLite file is neither created nor
    /// changed.
    public func openForReading(_ name: String) throws -> any StudyStore {
        switch self {
        case let .folder(catalog):
            return try catalog.openForReading(name)
        case let .sqliteFile(path):
            guard FileManager.default.fileExists(atPath: path) else {
                throw StudyStoreError.noSuchStudy(study: name, location: description, known: [])
            }
            return try SQLiteStudyStore(readingPath: path, studyName: name)
        case let .postgres(url):
            return try PostgresStudyStore(url: url, studyName: name, create: false)
        }
    }

    public func exists(_ name: String) throws -> Bool {
        switch self {
        case let .folder(catalog): return catalog.exists(name)
        case let .sqliteFile(path): return FileManager.default.fileExists(atPath: path)
        case .postgres: return try names().contains(name)
        }
    }

    /// The studies this storage holds, sorted (a SQLite file holds one, named after its folder).
    public func names() throws -> [String] {
        switch self {
        case let .folder(catalog): return catalog.names()
        case let .sqliteFile(path):
            guard FileManager.default.fileExists(atPath: path) else { return [] }
            return [URL(fileURLWithPath: path).deletingLastPathComponent().lastPathComponent]
        case let .postgres(url): return try PostgresStudyStore.studyNames(url: url)
        }
    }

    /// A one-line overview per study; a study that cannot be read is listed with `error` set.
    public func summaries() throws -> [StudySummary] {
        try names().map { name in
            do {
                return try StudySummary(name: name, store: try openForReading(name))
            } catch {
                return StudySummary(name: name, kind: nil, trialCount: 0, finishedCount: 0, divergedCount: 0,
                                    bestObjective: nil, bestTestAccuracy: nil, lastActivity: nil,
                                    error: String(describing: error))
            }
        }
    }

    /// The local folder for what a study writes beside its trials (reports, tables): the study's folder under
    /// the runs folder for the default storage, `runs/<study>` for the others.
    public func folder(of name: String, runs: URL? = nil) -> URL {
        switch self {
        case let .folder(catalog): return catalog.folder(of: name)
        case .sqliteFile, .postgres: return StudyCatalog(root: runs).folder(of: name)
        }
    }

    public enum StorageError: Error, CustomStringConvertible {
        case badURL(String)

        public var description: String {
            switch self {
            case let .badURL(text):
                return "--storage '\(text)' is not a storage URL: expected sqlite:PATH or "
                    + "postgresql://[user@]host[:port]/database (credentials from the URL, PG* variables or ~/.pgpass)"
            }
        }
    }
}
