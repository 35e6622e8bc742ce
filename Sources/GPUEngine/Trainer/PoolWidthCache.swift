import Foundation
import Datasets

/// What `PoolWidthSweep` picked for one device and workload.
public struct PoolWidthRecord: DeviceRecord, Equatable {
    public static let folder = "pool-width"
    public static let what = "pool width"
    /// The cache key's text (device, driver, program, network, training rows); see `PoolWidthCache.keyText`.
    public var key: String
    public var width: Int
    /// Why the sweep stopped there (`PoolWidthRule.Reason`).
    public var reason: String
    public var measurements: [PoolWidthMeasurement]
    /// The training rows it was measured with (the key holds their power-of-two bucket).
    public var trainingRows: Int
    /// When it was measured (ISO 8601).
    public var date: String

    public init(key: String, width: Int, reason: String, measurements: [PoolWidthMeasurement], trainingRows: Int, date: String) {
        self.key = key
        self.width = width
        self.reason = reason
        self.measurements = measurements
        self.trainingRows = trainingRows
        self.date = date
    }
}

/// A pool width and where it came from.
public struct PoolWidthChoice: Sendable, Equatable {
    public enum Origin: Sendable, Equatable {
        /// Found in the cache, measured by an earlier run.
        case cached
        /// Measured now (and stored, where `file` is set).
        case measured
    }

    public var width: Int
    public var origin: Origin
    /// The cache file (nil: no cache folder, or it could not be written).
    public var file: URL?
    public var record: PoolWidthRecord

    /// Where the width came from: "measured for this device, cached in /…/pool-width/….json".
    public var source: String {
        let place = file.map { " in \($0.path)" } ?? ""
        switch origin {
        case .cached: return "measured earlier for this device, cached\(place)"
        case .measured: return "measured for this device" + (file == nil ? ", not cached" : ", cached\(place)")
        }
    }
}

/// What `PoolWidthCache.width` tells its caller while it works: the sweep starts (nothing cached), a width
/// was measured, the result could not be stored.
public enum PoolWidthEvent: Sendable {
    case measuring(cacheFile: URL?)
    case measured(PoolWidthMeasurement)
    case notStored(String)
}

/// The pool width per device and workload, measured once by `PoolWidthSweep` and kept as a small JSON file
/// beside the program cache (`$AFSEARCH_CACHE/pool-width`, else `~/.cache/afsearch/pool-width`;
/// `DeviceRecordCache`). The key is everything the measurement depends on: the device and its driver, the
/// trainer's program for the menu (kernel templates, generated activations, tile) and its build options, the
/// profile and row pass, the network's layer widths and activated layers, the optimiser, the sweep's own
/// parameters, and the training rows rounded up to a power of two (a study's replicates, whose splits differ
/// by a few rows, share one measurement).
public typealias PoolWidthCache = DeviceRecordCache<PoolWidthRecord>

extension DeviceRecordCache where Record == PoolWidthRecord {
    /// The power of two at or above `rows` (at least 1).
    public static func rowBucket(_ rows: Int) -> Int {
        rows <= 1 ? 1 : 1 << (Int.bitWidth - (rows - 1).leadingZeroBitCount)
    }

    /// The batch size where it is smaller than the training rows (full batch adds no line: its keys predate
    /// mini-batch pools).
    static func miniBatchLine(config: TrainingConfig, train: LabeledData) -> String {
        guard let b = config.batchSize, b < train.rowCount else { return "" }
        return "batch: \(b)\n"
    }

    /// Everything a measured width depends on, as text.
    public static func keyText(trainer: PopulationTrainer, spec: MLPSpec, config: TrainingConfig, train: LabeledData,
                               sweep: PoolWidthSweep = PoolWidthSweep()) throws -> String {
        var full = config
        full.batchSize = nil
        let plan = try PopulationPool(trainer: trainer, spec: spec, config: full, train: train, slots: 1).plan()
        let program = ProgramCache.sha256Hex(Array(plan.program.source.utf8))
        return "afsearch pool width v1\n" + ProgramCache.deviceKeyLines(trainer.device.info) + """
            program-sha256: \(program)
            options: \(plan.buildOptions)
            profile: \(plan.profile.rawValue), row pass: \(trainer.rowPass), block rows: \(trainer.candidateBlockRows)
            network: \(spec.widths.map(String.init).joined(separator: "-")), slots \(spec.slotOfLayer.map(String.init).joined(separator: ",")), last layer activated: \(spec.lastLayerActivation)
            optimizer: \(config.optimizer)
            training rows: up to \(rowBucket(train.rowCount))

            """ + miniBatchLine(config: config, train: train) + sweep.keyLine
    }

    /// The width for this workload on `trainer`'s device: the cached one, else measured by `sweep` now and
    /// stored (a store that fails is reported through `report` and the measured width still returned).
    public func width(trainer: PopulationTrainer, spec: MLPSpec, config: TrainingConfig, train: LabeledData,
                      sweep: PoolWidthSweep = PoolWidthSweep(),
                      report: (PoolWidthEvent) -> Void = { _ in }) throws -> PoolWidthChoice {
        let key = try Self.keyText(trainer: trainer, spec: spec, config: config, train: train, sweep: sweep)
        if let hit = record(key: key) {
            return PoolWidthChoice(width: hit.width, origin: .cached, file: fileURL(key: key), record: hit)
        }
        report(.measuring(cacheFile: fileURL(key: key)))
        let result = try sweep.run(trainer: trainer, spec: spec, config: config, train: train) { report(.measured($0)) }
        let record = PoolWidthRecord(key: key, width: result.width, reason: result.reason.description,
                                     measurements: result.measurements, trainingRows: train.rowCount,
                                     date: ISO8601DateFormatter().string(from: Date()))
        var file: URL?
        do { file = try store(record) } catch { report(.notStored("\(error)")) }
        return PoolWidthChoice(width: result.width, origin: .measured, file: file, record: record)
    }
}
