import Foundation

/// A measurement kept per device: it carries the key text it was measured under, so a file read back under
/// another key (a hash collision, a copied folder) is ignored.
public protocol DeviceRecord: Codable, Sendable {
    /// The folder beside the program cache that holds this kind of record ("gemm-tuning").
    static var folder: String { get }
    /// What the records are, for errors ("GEMM tuning").
    static var what: String { get }
    var key: String { get }
}

/// Small JSON records measured once per device and kept beside the program cache, one file per key in one
/// folder (`$AFSEARCH_CACHE/<folder>`, else `~/.cache/afsearch/<folder>`), named by the SHA-256 of the key
/// text. The key text names everything the measurement depends on (device, driver, kernels, workload), so a
/// driver upgrade or a kernel change simply misses. Files are written to a temporary name in the same folder
/// and renamed, so processes sharing the folder never see half a file; an unreadable file, or one that holds
/// another key, is ignored: never fatal. `GEMMTuningCache` and `PoolWidthCache` are this cache of their records.
public struct DeviceRecordCache<Record: DeviceRecord>: Sendable {
    /// nil: nothing is stored or found.
    public let directory: URL?

    public init(directory: URL?) { self.directory = directory }

    /// `Record.folder` beside `ProgramCache.defaultDirectory` (nil when that cannot be named).
    public static func defaultDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL? {
        ProgramCache.defaultDirectory(environment: environment)?.deletingLastPathComponent()
            .appendingPathComponent(Record.folder, isDirectory: true)
    }

    /// The cache in the default folder (read from the environment at each use).
    public static var shared: DeviceRecordCache { DeviceRecordCache(directory: defaultDirectory()) }

    /// Where the record for `key` lives (whether or not it exists yet).
    public func fileURL(key: String) -> URL? {
        directory?.appendingPathComponent(ProgramCache.sha256Hex(Array(key.utf8)) + ".json")
    }

    /// The stored record for `key`, or nil (none, unreadable, or another key's).
    public func record(key: String) -> Record? {
        guard let file = fileURL(key: key), let data = FileManager.default.contents(atPath: file.path),
              let record = try? JSONDecoder().decode(Record.self, from: data), record.key == key
        else { return nil }
        return record
    }

    /// Stores `record` under its own key (replacing an earlier one); returns the file.
    @discardableResult
    public func store(_ record: Record) throws -> URL { try store(record, key: record.key) }

    /// Stores `record` under `key` (replacing an earlier one); returns the file.
    @discardableResult
    public func store(_ record: Record, key: String) throws -> URL {
        guard let file = fileURL(key: key) else {
            throw TrainerError.invalidConfig("no \(Record.what) cache folder: set AFSEARCH_CACHE or HOME")
        }
        let folder = file.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let temporary = folder.appendingPathComponent(".\(file.lastPathComponent).\(getpid()).\(UUID().uuidString).tmp")
        try encoder.encode(record).write(to: temporary)
        guard rename(temporary.path, file.path) == 0 else {
            try? FileManager.default.removeItem(at: temporary)
            throw TrainerError.invalidConfig("could not write the \(Record.what) cache file \(file.path)")
        }
        return file
    }
}
