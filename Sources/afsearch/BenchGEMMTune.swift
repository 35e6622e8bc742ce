import ArgumentParser
import Foundation
import GPUEngine

extension GEMMNetwork: ExpressibleByArgument {}

/// `afsearch bench gemm --tune`: sweeps the trainer's GEMM variants (`GEMMTuner`) and stores the winner in
/// the tuning cache beside the program cache, where the GPU profile's trainer finds it.
struct GEMMTuneOptions: ParsableArguments {
    @Flag(name: .long, help: "Tune the population trainer's GEMMs (tile, work-group, local-memory staging) on study 1's workload and store the winner for this device and driver.")
    var tune = false

    @Option(name: .long, help: "With --tune: whose GEMMs to tune: mlp (study 1's workload) or cnn (the CNN benchmark's: study 2's CNN on 28x28 images). Each network's winner is stored on its own.")
    var tuneNetwork: GEMMNetwork = .mlp

    @Option(name: .long, help: "With --tune: try at most this many variants, the untuned reference first (default: the whole sweep).")
    var tuneBudget: Int?

    @Option(name: .long, help: "With --tune: candidates trained at once (default: 1024 for mlp, the CNN benchmark's 8 for cnn).")
    var tunePopulation: Int?

    @Option(name: .long, help: "With --tune: training rows of the synthetic data (default: 1000 for mlp, 1024 images for cnn).")
    var tuneSamples: Int?

    @Option(name: .long, help: "With --tune: epochs per variant.")
    var tuneEpochs = 2

    func validate() throws {
        if let b = tuneBudget, b < 1 { throw ValidationError("--tune-budget must be at least 1, got \(b)") }
        for (name, v) in [("--tune-population", tunePopulation ?? 1), ("--tune-samples", tuneSamples ?? 1), ("--tune-epochs", tuneEpochs)]
        where v < 1 {
            throw ValidationError("\(name) must be at least 1, got \(v)")
        }
    }

    /// What `--tune --json` prints.
    struct Report: Codable {
        var device: String
        var driver: String
        var network: GEMMNetwork
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
        let workload: GEMMTuner.Workload, population: Int, samples: Int, name: String
        switch tuneNetwork {
        case .mlp:
            var w = Study1Workload()
            w.population = tunePopulation ?? 1024
            w.samples = tuneSamples ?? 1000
            w.epochs = tuneEpochs
            (workload, population, samples, name) = (.mlp(w), w.population, w.samples, "study 1's workload")
        case .cnn:
            var w = CNNWorkload()
            w.population = tunePopulation ?? w.population
            w.images = tuneSamples ?? w.images
            w.batch = min(w.batch, w.images)
            w.epochs = tuneEpochs
            (workload, population, samples, name) = (.cnn(w), w.population, w.images, "the CNN benchmark's workload (\(w.architecture))")
        }
        var tuner = GEMMTuner(device: device, workload: workload)
        if let b = tuneBudget { tuner.variants = Array(tuner.variants.prefix(b)) }
        if !json {
            print("device: \(device.info.name) (driver \(device.info.driverVersion))")
            print("tuning \(tuner.variants.count) \(tuneNetwork.rawValue.uppercased()) GEMM variants on \(name): P = \(population), n = \(samples), \(tuneEpochs) epochs")
        }
        let (measurements, winner) = try tuner.run(log: json ? nil : { print("  " + $0) })
        var report = Report(device: device.info.name, driver: device.info.driverVersion, network: tuneNetwork, population: population,
                            samples: samples, epochs: tuneEpochs, measurements: measurements, winner: winner,
                            winnerGFLOPs: measurements.first { $0.variant == winner }?.gflops)
        if let winner {
            let record = GEMMTuningRecord(key: GEMMTuningCache.keyText(for: device.info, network: tuneNetwork), winner: winner,
                                          measurements: measurements, date: ISO8601DateFormatter().string(from: Date()))
            report.cacheFile = try GEMMTuningCache.shared.store(record, for: device.info, network: tuneNetwork).path
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
