import Crypto
import Foundation

/// Built programs, kept in memory per (device, options, source) and on disk as device binaries (on drivers
/// that do not cache source builds themselves: `BinaryStorage`).
///
/// Disk files live in `directory`, one per key: the key is the SHA-256 of device name, vendor, platform
/// version, driver version, build options and the source's SHA-256, so a driver upgrade or an option
/// change simply misses. A file that is truncated, fails its checksum, carries another key, or that the
/// driver refuses is deleted and rebuilt from source — never fatal. Files are written to a temporary
/// name in the same folder and renamed, so processes sharing the folder never see half a file.
///
/// Threads: tables and counters sit behind locks. Each key has its own build slot with its own lock:
/// two threads asking for the same program wait for one build; different programs build in parallel.
public final class ProgramCache: @unchecked Sendable {
    public struct Counters: Sendable, Equatable {
        /// Compilations from source (failed ones included).
        public var builds = 0
        public var memoryHits = 0
        public var diskHits = 0
        /// Cache files found but unusable (corrupt, wrong key, refused by the driver) and replaced.
        public var diskRejected = 0
        /// Cache files that could not be written (read-only folder, full disk); the program still works.
        public var diskWriteFailures = 0
    }

    /// Which devices' programs are written to disk as binaries.
    public enum BinaryStorage: Sendable {
        /// Every device's.
        case always
        /// Not those of drivers that cache their own source builds (`DeviceInfo.cachesSourceBuilds`: PoCL, in
        /// `~/.cache/pocl`). Asking PoCL for a program's binary compiles every kernel of the program once more,
        /// for any work-group size, launched or not: a trainer program's first build on this project's 2-core
        /// machine took 4.25 s with its binary against 0.90 s without, and a later load from the binary saved
        /// 0.04 s over a build that PoCL's own cache answers. (Cold `swift test` compiled 3,631 kernels, 2,229
        /// of them such generic copies.)
        case unlessDriverCaches
    }

    /// `nil` keeps programs in memory only.
    public let directory: URL?
    public let binaries: BinaryStorage
    /// How many programs the memory tier keeps; the least recently used is dropped beyond it (it stays
    /// alive while kernels of it are in use, and on disk). A search builds one program per generation,
    /// so an unbounded table would grow for the whole run.
    public let memoryCapacity: Int

    /// The process-wide cache, under `defaultDirectory()`.
    public static let shared = ProgramCache(directory: defaultDirectory())

    /// `$AFSEARCH_CACHE/programs`, else `~/.cache/afsearch/programs`; `nil` when neither can be named.
    public static func defaultDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL? {
        if let root = environment["AFSEARCH_CACHE"], !root.isEmpty {
            return URL(fileURLWithPath: root, isDirectory: true).appendingPathComponent("programs", isDirectory: true)
        }
        guard let home = environment["HOME"], !home.isEmpty else { return nil }
        return URL(fileURLWithPath: home, isDirectory: true)
            .appendingPathComponent(".cache/afsearch/programs", isDirectory: true)
    }

    public init(directory: URL?, memoryCapacity: Int = 32, binaries: BinaryStorage = .unlessDriverCaches) {
        self.directory = directory
        self.binaries = binaries
        self.memoryCapacity = max(1, memoryCapacity)
    }

    public var counters: Counters { counterState.withLock { $0 } }

    /// Programs currently held in memory.
    public var memoryCount: Int { table.withLock { $0.slots.count } }

    private struct MemoryKey: Hashable {
        let device: Int
        let options: String
        let source: String
    }

    private final class BuildSlot: @unchecked Sendable {
        let lock = NSLock()
        var program: ComputeProgram?
    }

    private struct SlotTable {
        var slots: [MemoryKey: BuildSlot] = [:]
        /// Keys from least to most recently used.
        var recency: [MemoryKey] = []
    }

    private let table = LockedState(SlotTable())
    private let counterState = LockedState(Counters())

    private func count(_ update: (inout Counters) -> Void) { counterState.withLock { update(&$0) } }

    /// The program for `source` built with `options` on `device`: from memory, else from disk, else
    /// compiled (and then written to disk where `binaries` keeps this device's). A build failure throws
    /// `ProgramBuildError` and is not cached.
    public func program(source: String, options: String = "", device: ComputeDevice) throws -> ComputeProgram {
        let key = MemoryKey(device: device.info.index, options: options, source: source)
        let slot = table.withLock { table in
            if let slot = table.slots[key] {
                if let position = table.recency.firstIndex(of: key) { table.recency.remove(at: position) }
                table.recency.append(key)
                return slot
            }
            let slot = BuildSlot()
            table.slots[key] = slot
            table.recency.append(key)
            while table.recency.count > memoryCapacity {
                table.slots[table.recency.removeFirst()] = nil
            }
            return slot
        }
        slot.lock.lock()
        defer { slot.lock.unlock() }
        if let program = slot.program {
            count { $0.memoryHits += 1 }
            return program
        }
        let file = storesBinaries(of: device.info) ? fileURL(source: source, options: options, device: device) : nil
        if let file, let program = loadFromDisk(file, keyText: keyText(source: source, options: options, device: device),
                                                options: options, device: device) {
            count { $0.diskHits += 1 }
            slot.program = program
            return program
        }
        count { $0.builds += 1 }
        let program = try ComputeProgram.build(source: source, options: options, device: device)
        slot.program = program
        if let file { saveToDisk(program, file: file, keyText: keyText(source: source, options: options, device: device)) }
        return program
    }

    /// Whether programs of this device go to disk.
    public func storesBinaries(of device: DeviceInfo) -> Bool {
        directory != nil && (binaries == .always || !device.cachesSourceBuilds)
    }

    /// Forgets the in-memory programs (the disk files stay); the next request is a disk hit.
    public func removeAllFromMemory() {
        table.withLock { $0 = SlotTable() }
    }

    // MARK: Disk format

    /// Everything that decides whether a binary is valid for a request, as text.
    func keyText(source: String, options: String, device: ComputeDevice) -> String {
        "afsearch program cache v1\n" + Self.deviceKeyLines(device.info) + """
            options: \(options)
            source-sha256: \(Self.sha256Hex(Array(source.utf8)))

            """
    }

    /// The lines of a cache key that name the device and its driver (also the keys of `DeviceRecordCache`'s records).
    static func deviceKeyLines(_ info: DeviceInfo) -> String {
        "device: \(info.name)\nvendor: \(info.vendor)\nplatform: \(info.platformName) \(info.platformVersion)\n"
            + "driver: \(info.driverVersion)\n"
    }

    /// Where the binary for this request lives (whether or not it exists yet).
    public func fileURL(source: String, options: String, device: ComputeDevice) -> URL? {
        directory?.appendingPathComponent(Self.sha256Hex(Array(keyText(source: source, options: options, device: device).utf8)) + ".clbin")
    }

    private static let magic = Array("AFSCLBIN".utf8)

    /// SHA-256 (swift-crypto) of the cache's key texts and binaries.
    static func sha256(_ bytes: some Collection<UInt8>) -> [UInt8] { Array(Crypto.SHA256.hash(data: Array(bytes))) }
    static func sha256Hex(_ bytes: some Collection<UInt8>) -> String {
        sha256(bytes).map { String(format: "%02x", $0) }.joined()
    }

    /// File layout: magic (8 bytes) · key length (UInt32 LE) · key text · binary length (UInt64 LE) ·
    /// binary · SHA-256 of the binary (32 bytes).
    static func encode(keyText: String, binary: [UInt8]) -> [UInt8] {
        let key = Array(keyText.utf8)
        var out = magic
        out += withUnsafeBytes(of: UInt32(key.count).littleEndian, Array.init)
        out += key
        out += withUnsafeBytes(of: UInt64(binary.count).littleEndian, Array.init)
        out += binary
        out += Self.sha256(binary)
        return out
    }

    /// The binary, or `nil` when the bytes are not a complete, intact file for `keyText`.
    static func decode(_ bytes: [UInt8], keyText: String) -> [UInt8]? {
        var cursor = 0
        func take(_ n: Int) -> ArraySlice<UInt8>? {
            guard n >= 0, cursor + n <= bytes.count else { return nil }
            defer { cursor += n }
            return bytes[cursor ..< cursor + n]
        }
        func integer<T: FixedWidthInteger>(_ type: T.Type) -> T? {
            guard let raw = take(MemoryLayout<T>.size) else { return nil }
            return raw.reversed().reduce(T(0)) { $0 << 8 | T($1) }
        }
        guard let head = take(magic.count), Array(head) == magic,
              let keyLength = integer(UInt32.self), let key = take(Int(keyLength)),
              Array(key) == Array(keyText.utf8),
              let binaryLength = integer(UInt64.self), binaryLength <= UInt64(bytes.count),
              let binary = take(Int(binaryLength)), let checksum = take(32),
              cursor == bytes.count, Array(checksum) == Self.sha256(binary)
        else { return nil }
        return Array(binary)
    }

    private func loadFromDisk(_ file: URL, keyText: String, options: String, device: ComputeDevice) -> ComputeProgram? {
        guard let data = FileManager.default.contents(atPath: file.path) else { return nil }
        if let binary = Self.decode([UInt8](data), keyText: keyText),
           let program = try? ComputeProgram.load(binary: binary, options: options, device: device) {
            return program
        }
        count { $0.diskRejected += 1 }
        try? FileManager.default.removeItem(at: file)
        return nil
    }

    private func saveToDisk(_ program: ComputeProgram, file: URL, keyText: String) {
        do {
            let binary = try program.binary()
            guard !binary.isEmpty else { return }
            let folder = file.deletingLastPathComponent()
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let temporary = folder.appendingPathComponent(".\(file.lastPathComponent).\(getpid()).\(UUID().uuidString).tmp")
            try Data(Self.encode(keyText: keyText, binary: binary)).write(to: temporary)
            if rename(temporary.path, file.path) != 0 {
                try? FileManager.default.removeItem(at: temporary)
                count { $0.diskWriteFailures += 1 }
            }
        } catch {
            count { $0.diskWriteFailures += 1 }
        }
    }
}

extension ComputeDevice {
    /// The program for `source` and `options` on this device, through `cache` (the shared cache
    /// under `$AFSEARCH_CACHE` or `~/.cache/afsearch` by default).
    public func program(source: String, options: String = "", cache: ProgramCache = .shared) throws -> ComputeProgram {
        try cache.program(source: source, options: options, device: self)
    }
}
