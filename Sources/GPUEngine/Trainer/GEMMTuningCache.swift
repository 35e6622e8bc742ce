import Foundation
import Kernels

/// What `afsearch bench gemm --tune` measured on one device: every variant's rates and the winner.
public struct GEMMTuningRecord: Sendable, Codable {
    /// The cache key's text (device, driver, kernels); a record read back under another key is ignored.
    public var key: String
    public var winner: GEMMVariant
    public var measurements: [GEMMVariantMeasurement]
    /// When it was measured (ISO 8601).
    public var date: String

    public init(key: String, winner: GEMMVariant, measurements: [GEMMVariantMeasurement], date: String) {
        self.key = key
        self.winner = winner
        self.measurements = measurements
        self.date = date
    }
}

/// The tuned GEMM variant per device and network (`GEMMNetwork`: the MLP's and the CNN's GEMMs are tuned
/// apart), one small JSON file each, beside the program cache (`$AFSEARCH_CACHE/gemm-tuning`, else
/// `~/.cache/afsearch/gemm-tuning`). A file is keyed, like the program cache's binaries, by device name, vendor,
/// platform, driver version and the network's GEMM kernels' source (the CNN's key also names the network), so a
/// driver upgrade or a kernel change misses and the trainer falls back to the vendor table. Written to a
/// temporary name and renamed; an unreadable or foreign file is ignored, never fatal.
public struct GEMMTuningCache: Sendable {
    /// nil: nothing is stored or found.
    public let directory: URL?

    public init(directory: URL?) { self.directory = directory }

    /// The folder beside `ProgramCache.defaultDirectory`.
    public static func defaultDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL? {
        ProgramCache.defaultDirectory(environment: environment)?.deletingLastPathComponent()
            .appendingPathComponent("gemm-tuning", isDirectory: true)
    }

    public static var shared: GEMMTuningCache { GEMMTuningCache(directory: defaultDirectory()) }

    /// The kernel templates a network's GEMMs are built from (the CNN's Linear weight gradients and the staged
    /// slab copies are mlp_gemm.cl's and mlp_gemm_staged.cl's).
    static func kernelSources(_ network: GEMMNetwork) -> String {
        let mlp = KernelTemplates.mlp_gemm + KernelTemplates.mlp_gemm_staged
        switch network {
        case .mlp: return mlp
        case .cnn: return mlp + KernelTemplates.cnn_conv + KernelTemplates.cnn_linear + KernelTemplates.cnn_conv_staged
        }
    }

    /// Everything a tuned result depends on, as text.
    public static func keyText(for info: DeviceInfo, network: GEMMNetwork = .mlp) -> String {
        let kernels = ProgramCache.sha256Hex(Array(kernelSources(network).utf8))
        let name = network == .mlp ? "" : "network: \(network.rawValue)\n"
        return "afsearch gemm tuning v1\n" + name + ProgramCache.deviceKeyLines(info) + "kernels-sha256: \(kernels)\n\n"
    }

    public func fileURL(for info: DeviceInfo, network: GEMMNetwork = .mlp) -> URL? {
        directory?.appendingPathComponent(ProgramCache.sha256Hex(Array(Self.keyText(for: info, network: network).utf8)) + ".json")
    }

    /// The stored record for this device, driver and network, or nil.
    public func record(for info: DeviceInfo, network: GEMMNetwork = .mlp) -> GEMMTuningRecord? {
        guard let file = fileURL(for: info, network: network), let data = FileManager.default.contents(atPath: file.path),
              let record = try? JSONDecoder().decode(GEMMTuningRecord.self, from: data),
              record.key == Self.keyText(for: info, network: network)
        else { return nil }
        return record
    }

    public func winner(for info: DeviceInfo, network: GEMMNetwork = .mlp) -> GEMMVariant? { record(for: info, network: network)?.winner }

    /// Stores `record` for this device and network (replacing an earlier one); returns the file.
    @discardableResult
    public func store(_ record: GEMMTuningRecord, for info: DeviceInfo, network: GEMMNetwork = .mlp) throws -> URL {
        guard let file = fileURL(for: info, network: network) else {
            throw TrainerError.invalidConfig("no GEMM tuning cache folder: set AFSEARCH_CACHE or HOME")
        }
        let folder = file.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let temporary = folder.appendingPathComponent(".\(file.lastPathComponent).\(getpid()).\(UUID().uuidString).tmp")
        try encoder.encode(record).write(to: temporary)
        guard rename(temporary.path, file.path) == 0 else {
            try? FileManager.default.removeItem(at: temporary)
            throw TrainerError.invalidConfig("could not write the GEMM tuning cache file \(file.path)")
        }
        return file
    }
}
