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

/// The tuned GEMM variant per device, one small JSON file each, beside the program cache
/// (`$AFSEARCH_CACHE/gemm-tuning`, else `~/.cache/afsearch/gemm-tuning`; `DeviceRecordCache`). A file is
/// keyed, like the program cache's binaries, by device name, vendor, platform, driver version and the GEMM
/// kernels' source, so a driver upgrade or a kernel change misses and the trainer falls back to the vendor
/// table.
public typealias GEMMTuningCache = DeviceRecordCache<GEMMTuningRecord>

extension DeviceRecordCache where Record == GEMMTuningRecord {
    /// Everything a tuned result depends on, as text.
    public static func keyText(for info: DeviceInfo) -> String {
        let kernels = ProgramCache.sha256Hex(Array((KernelTemplates.mlp_gemm + KernelTemplates.mlp_gemm_staged).utf8))
        return "afsearch gemm tuning v1\n" + ProgramCache.deviceKeyLines(info) + "kernels-sha256: \(kernels)\n\n"
    }

    public func fileURL(for info: DeviceInfo) -> URL? { fileURL(key: Self.keyText(for: info)) }

    /// The stored record for this device and driver, or nil.
    public func record(for info: DeviceInfo) -> GEMMTuningRecord? { record(key: Self.keyText(for: info)) }

    public func winner(for info: DeviceInfo) -> GEMMVariant? { record(for: info)?.winner }

    /// Stores `record` for this device (replacing an earlier one); returns the file.
    @discardableResult
    public func store(_ record: GEMMTuningRecord, for info: DeviceInfo) throws -> URL {
        try store(record, key: Self.keyText(for: info))
    }
}
