import ArgumentParser
import Foundation
import GPUEngine

/// `afsearch bench gemm --tune`: sweeps the trainer's GEMM variants (`GEMMTuner`) and stores the winner in
/// the tuning cache beside the program cache, where the GPU profile's trainer finds it.
struct GEMMTuneOptions: ParsableArguments {
    @Flag(name: .long, help: "Tune the population trainer's GEMMs (tile, work-group, local-memory staging) on study 1's workload and store the winner for this device and driver.")
    var tune = false

    @Option(name: .long, help: "With --tune: try at most this many variants, the untuned reference first (default: the whole sweep).")
    var tuneBudget: Int?

    @Option(name: .long, help: "With --tune: candidates trained at once.")
    var tunePopulation = 1024

    @Option(name: .long, help: "With --tune: training rows of study 1's synthetic data.")
    var tuneSamples = 1000

    @Option(name: .long, help: "With --tune: epochs per variant.")
    var tuneEpochs = 2

    func validate() throws {
        if let b = tuneBudget, b < 1 { throw ValidationError("--tune-budget must be at least 1, got \(b)") }
        for (name, v) in [("--tune-population", tunePopulation), ("--tune-samples", tuneSamples), ("--tune-epochs", tuneEpochs)] where v < 1 {
            throw ValidationError("\(name) must be at least 1, got \(v)")
        }
    }

    /// What `--tune --json` prints.
    struct Report: Codable {
        var device: String
        var driver: String
        var population: Int
        var samples: Int
        var epochs: Int
        var measurements: [GEMMVariantMeasurement]
        var winner: GEMMVariant?
        var winnerGFLOPs: Double?
        /// The tuning cache file written (nil when no variant matched the reference).
        var cacheFile: String?
    }

    func run(device: ComputeDevice, json: Bool) throws {
        var workload = Study1Workload()
        workload.population = tunePopulation
        workload.samples = tuneSamples
        workload.epochs = tuneEpochs
        var tuner = GEMMTuner(device: device, workload: workload)
        if let b = tuneBudget { tuner.variants = Array(tuner.variants.prefix(b)) }
        if !json {
            print("device: \(device.info.name) (driver \(device.info.driverVersion))")
            print("tuning \(tuner.variants.count) GEMM variants on study 1's workload: P = \(tunePopulation), n = \(tuneSamples), \(tuneEpochs) epochs")
        }
        let (measurements, winner) = try tuner.run(log: json ? nil : { print("  " + $0) })
        var report = Report(device: device.info.name, driver: device.info.driverVersion, population: tunePopulation,
                            samples: tuneSamples, epochs: tuneEpochs, measurements: measurements, winner: winner,
                            winnerGFLOPs: measurements.first { $0.variant == winner }?.gflops)
        if let winner {
            let record = GEMMTuningRecord(key: GEMMTuningCache.keyText(for: device.info), winner: winner, measurements: measurements,
                                          date: ISO8601DateFormatter().string(from: Date()))
            report.cacheFile = try GEMMTuningCache.shared.store(record, for: device.info).path
        }
        if json {
            try JSONOutput.print(report, layout: .line)
        } else if let winner, let rate = report.winnerGFLOPs {
            print(String(format: "tuned GEMM: %@, %.1f GFLOP/s (stored in %@)", winner.description, rate, report.cacheFile ?? "-"))
        } else {
            print("no variant trained the reference's bits; nothing stored")
        }
        let differing = measurements.filter { !$0.matchesReference }.map(\.variant.description)
        if !differing.isEmpty { throw GEMMVariantMismatch(variants: differing) }
    }
}

/// A tuned variant that trained other bits than the untuned kernels: a kernel bug on this device.
struct GEMMVariantMismatch: Error, CustomStringConvertible {
    var variants: [String]
    var description: String {
        "GEMM variants trained other bits than the untuned kernels (a kernel bug on this device): " + variants.joined(separator: "; ")
    }
}
