import Foundation
import Kernels

/// What `afsearch bench gemm --tune` measured on one device: every variant's rates and the winner.
public struct GEMMTuningRecord: DeviceRecord {
    public static let folder = "gemm-tuning"
    public static let what = "GEMM tuning"
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
/// `~/.cache/afsearch/gemm-tuning`; `DeviceRecordCache`). A file is keyed, like the program cache's binaries, by
/// device name, vendor, platform, driver version and the network's GEMM kernels' source (the CNN's key also
/// names the network), so a driver upgrade or a kernel change misses and the trainer falls back to the vendor
/// table.
public typealias GEMMTuningCache = DeviceRecordCache<GEMMTuningRecord>

extension DeviceRecordCache where Record == GEMMTuningRecord {
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
        fileURL(key: Self.keyText(for: info, network: network))
    }

    /// The stored record for this device, driver and network, or nil.
    public func record(for info: DeviceInfo, network: GEMMNetwork = .mlp) -> GEMMTuningRecord? {
        record(key: Self.keyText(for: info, network: network))
    }

    public func winner(for info: DeviceInfo, network: GEMMNetwork = .mlp) -> GEMMVariant? { record(for: info, network: network)?.winner }

    /// Stores `record` for this device and network (replacing an earlier one); returns the file.
    @discardableResult
    public func store(_ record: GEMMTuningRecord, for info: DeviceInfo, network: GEMMNetwork = .mlp) throws -> URL {
        try store(record, key: Self.keyText(for: info, network: network))
    }
}
