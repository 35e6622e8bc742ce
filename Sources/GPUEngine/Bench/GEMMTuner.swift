import Foundation

/// One variant's rates in a tuning sweep, per GEMM and over all three (FLOPs of the GEMMs over their
/// device seconds, from the kernels' profiling counters), and whether it trained the same bits as the
/// reference.
public struct GEMMVariantMeasurement: Sendable, Codable {
    public var variant: GEMMVariant
    public var forwardGFLOPs: Double
    public var backwardDataGFLOPs: Double
    public var backwardWeightsGFLOPs: Double
    public var gflops: Double
    /// Final weights and losses bit-identical to the sweep's first (untuned) variant.
    public var matchesReference: Bool
}

/// `afsearch bench gemm --tune`: runs a network's workload under the GPU profile once per variant, with
/// kernel profiling, so what is timed is the trainer's own GEMMs with their epilogues. The MLP's is study 1's
/// (`Study1Workload`: its layer shapes, full-batch Adam, the eight-function cycle) on the population trainer;
/// the CNN's is the CNN benchmark's (`CNNWorkload`: study 2's CNN on 28 × 28 images, mini-batch Adam) on the
/// CNN trainer, whose GEMMs are its convolutions and Linear layers. Each variant's trained weights and losses
/// must equal the reference's (the first variant, `GEMMVariant.untuned`) bit for bit; the fastest variant that
/// does is the winner (by the three GEMMs' combined rate).
public struct GEMMTuner {
    /// What the tuner trains, and so which network's GEMMs it tunes.
    public enum Workload: Sendable {
        case mlp(Study1Workload)
        case cnn(CNNWorkload)
    }

    public let device: ComputeDevice
    public var workload: Workload
    public var variants: [GEMMVariant]
    let cache: ProgramCache

    public var network: GEMMNetwork {
        if case .cnn = workload { return .cnn }
        return .mlp
    }

    /// `workload.epochs` defaults to 2 here (the first epoch includes the kernels' first launches).
    public init(device: ComputeDevice, workload: Study1Workload, variants: [GEMMVariant]? = nil, cache: ProgramCache = .shared) {
        self.init(device: device, workload: .mlp(workload), variants: variants, cache: cache)
    }

    /// `variants` defaults to the network's sweep (`GEMMVariant.sweep`).
    public init(device: ComputeDevice, workload: Workload, variants: [GEMMVariant]? = nil, cache: ProgramCache = .shared) {
        self.device = device
        self.workload = workload
        self.cache = cache
        switch workload {
        case .mlp(let w):
            self.variants = variants ?? GEMMVariant.sweep(for: device, widths: w.widths)
        case .cnn(let w):
            let channels = ((try? NetworkArchitecture.named(w.architecture))?.layers ?? []).compactMap { l -> Int? in
                switch l { case .conv(_, _, let c, _, _), .linear(let c, _): return c; default: return nil }
            }
            self.variants = variants ?? GEMMVariant.sweep(for: device, widths: [CNNWorkload.inputShape[0]] + channels, network: .cnn)
        }
    }

    /// FLOPs of one GEMM kind over a `train` call: each epoch's steps plus the final evaluation's forward.
    func flops(_ gemm: PopulationGEMM) throws -> Double {
        // Multiply-adds per sample of each GEMM layer, then samples × candidates × passes.
        let macs: [Double], samples: Int, population: Int, epochs: Int
        switch workload {
        case .mlp(let w):
            macs = zip(w.widths.dropLast(), w.widths.dropFirst()).map { Double($0 * $1) }
            (samples, population, epochs) = (w.samples, w.population, w.epochs)
        case .cnn(let w):
            macs = try CNNWorkload.layerMACsPerImage(try NetworkArchitecture.named(w.architecture))
            (samples, population, epochs) = (w.images, w.population, w.epochs)
        }
        let perPass: Double
        switch gemm {
        case .forward, .backwardWeights: perPass = macs.reduce(0, +)
        case .backwardData: perPass = macs.dropFirst().reduce(0, +)
        }
        let passes = Double(epochs + (gemm == .forward ? 1 : 0))
        return 2 * Double(samples) * Double(population) * perPass * passes
    }

    /// The kernels of one GEMM kind that `variant` runs for this network.
    func kernels(_ gemm: PopulationGEMM, _ variant: GEMMVariant) -> [String] {
        guard network == .cnn else { return [variant.kernelName(gemm)] }
        switch gemm {
        case .forward: return ["cnn_conv_forward", "cnn_linear_forward"].map { variant.kernelName(unstaged: $0) }
        case .backwardData: return ["cnn_conv_backward_data", "cnn_linear_backward_data"].map { variant.kernelName(unstaged: $0) }
        case .backwardWeights: return [variant.kernelName(unstaged: "cnn_conv_backward_weights"), variant.kernelName(gemm)]
        }
    }

    /// One timed training run under `variant` after a small warm-up one (the build and the kernels' first
    /// launches outside the timing): the trained bits (`trainedBits`) and the kernels' device seconds.
    func train(_ variant: GEMMVariant) throws -> (bits: [UInt64], kernelSeconds: [String: Double]) {
        switch workload {
        case .mlp(let workload):
            let data = workload.syntheticData(), spec = try workload.spec()
            let trainer = PopulationTrainer(device: device, cache: cache)
            trainer.profile = .gpu
            trainer.gemm = variant
            trainer.profileKernels = true
            var warm = workload
            warm.population = 1
            warm.epochs = 1
            _ = try trainer.train(candidates: warm.candidates(), spec: spec, config: warm.config, train: data)
            let result = try trainer.train(candidates: workload.candidates(), spec: spec, config: workload.config, train: data)
            return (Self.trainedBits(result), result.timing.kernelSeconds)
        case .cnn(let workload):
            let arch = try NetworkArchitecture.named(workload.architecture)
            let data = workload.data(), candidates = try workload.candidates(slots: arch.slotCount)
            let trainer = PopulationCNNTrainer(device: device, cache: cache)
            trainer.profile = .gpu
            trainer.gemm = variant
            trainer.profileKernels = true
            let config = TrainingConfig(epochs: workload.epochs, learningRate: 1e-3, optimizer: .adam(), batchSize: workload.batch,
                                        seed: workload.seed, evaluateEveryEpoch: false)
            var warm = config
            warm.epochs = 1
            _ = try trainer.train(candidates: Array(candidates.prefix(1)), architecture: arch, config: warm, train: data)
            let result = try trainer.train(candidates: candidates, architecture: arch, config: config, train: data)
            return (Self.trainedBits(result), result.timing.kernelSeconds)
        }
    }

    /// Measures every variant; `log` gets a line per variant.
    public func run(log: ((String) -> Void)? = nil) throws -> (measurements: [GEMMVariantMeasurement], winner: GEMMVariant?) {
        var reference: [UInt64]?
        var out: [GEMMVariantMeasurement] = []
        for variant in variants {
            let (bits, kernelSeconds) = try train(variant)
            let matches = reference.map { $0 == bits } ?? true
            if reference == nil { reference = bits }
            var rates: [PopulationGEMM: Double] = [:]
            var totalSeconds = 0.0, totalFlops = 0.0
            for gemm in PopulationGEMM.allCases {
                let seconds = kernels(gemm, variant).map { kernelSeconds[$0] ?? 0 }.reduce(0, +)
                let f = try flops(gemm)
                rates[gemm] = seconds > 0 ? f / seconds / 1e9 : 0
                totalSeconds += seconds
                totalFlops += f
            }
            let m = GEMMVariantMeasurement(variant: variant, forwardGFLOPs: rates[.forward]!, backwardDataGFLOPs: rates[.backwardData]!,
                                           backwardWeightsGFLOPs: rates[.backwardWeights]!,
                                           gflops: totalSeconds > 0 ? totalFlops / totalSeconds / 1e9 : 0, matchesReference: matches)
            log?(String(format: "%@: %.1f GFLOP/s (forward %.1f, data %.1f, weights %.1f)%@", variant.description, m.gflops,
                        m.forwardGFLOPs, m.backwardDataGFLOPs, m.backwardWeightsGFLOPs, matches ? "" : " DIFFERS from the reference"))
            out.append(m)
        }
        let winner = out.filter(\.matchesReference).max { $0.gflops < $1.gflops }?.variant
        return (out, winner)
    }

    /// A run's trained bits: every candidate's final weights, biases, activation parameters, loss history and
    /// final training metrics (bit patterns, so -0 and 0 differ).
    public static func trainedBits<W>(_ run: TrainingRun<W>) -> [UInt64] {
        var bits: [UInt64] = []
        for r in run.candidates {
            let floats: [Float] = r.weights.values + r.activationParameters.flatMap { $0 }
            bits.append(UInt64(floats.count))
            bits += floats.map { UInt64($0.bitPattern) }
            for m in r.history.map(\.train) + [r.finalTrain] { bits += [m.loss.bitPattern, m.accuracy.bitPattern] }
        }
        return bits
    }

    /// Whether two runs trained the same bits (`trainedBits`).
    public static func sameBits<W>(_ a: TrainingRun<W>, _ b: TrainingRun<W>) -> Bool {
        a.candidates.count == b.candidates.count && trainedBits(a) == trainedBits(b)
    }
}
