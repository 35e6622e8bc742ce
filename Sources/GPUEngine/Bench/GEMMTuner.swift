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

/// `afsearch bench gemm --tune`: runs study 1's workload (`Study1Workload`: its layer shapes, full-batch
/// Adam, the eight-function cycle) on the population trainer under the GPU profile once per variant, with
/// kernel profiling, so what is timed is the trainer's own GEMMs with their epilogues. Each variant's
/// trained weights and losses must equal the reference's (the first variant, `GEMMVariant.untuned`) bit
/// for bit; the fastest variant that does is the winner (by the three GEMMs' combined rate).
public struct GEMMTuner {
    public let device: ComputeDevice
    public var workload: Study1Workload
    public var variants: [GEMMVariant]
    let cache: ProgramCache

    /// `workload.epochs` defaults to 2 here (the first epoch includes the kernels' first launches).
    public init(device: ComputeDevice, workload: Study1Workload, variants: [GEMMVariant]? = nil, cache: ProgramCache = .shared) {
        self.device = device
        self.workload = workload
        self.variants = variants ?? GEMMVariant.sweep(for: device, widths: workload.widths)
        self.cache = cache
    }

    /// FLOPs of one GEMM kind over a `train` call: each epoch's step plus the final evaluation's forward.
    func flops(_ gemm: PopulationGEMM) -> Double {
        let w = workload.widths
        let products = zip(w.dropLast(), w.dropFirst()).map { Double($0 * $1) }
        let perPass: Double
        switch gemm {
        case .forward: perPass = products.reduce(0, +)
        case .backwardData: perPass = products.dropFirst().reduce(0, +)
        case .backwardWeights: perPass = products.reduce(0, +)
        }
        let passes = Double(workload.epochs + (gemm == .forward ? 1 : 0))
        return 2 * Double(workload.samples) * Double(workload.population) * perPass * passes
    }

    /// Measures every variant; `log` gets a line per variant.
    public func run(log: ((String) -> Void)? = nil) throws -> (measurements: [GEMMVariantMeasurement], winner: GEMMVariant?) {
        let data = workload.syntheticData(), spec = try workload.spec(), candidates = workload.candidates()
        var reference: PopulationTrainingResult?
        var out: [GEMMVariantMeasurement] = []
        for variant in variants {
            let trainer = PopulationTrainer(device: device, cache: cache)
            trainer.profile = .gpu
            trainer.gemm = variant
            trainer.profileKernels = true
            // The build and the kernels' first launches outside the timing.
            var warm = workload
            warm.population = 1
            warm.epochs = 1
            _ = try trainer.train(candidates: warm.candidates(), spec: spec, config: warm.config, train: data)
            let result = try trainer.train(candidates: candidates, spec: spec, config: workload.config, train: data)
            let matches = reference.map { Self.sameBits($0, result) } ?? true
            if reference == nil { reference = result }
            var rates: [PopulationGEMM: Double] = [:]
            var totalSeconds = 0.0, totalFlops = 0.0
            for gemm in PopulationGEMM.allCases {
                let seconds = result.timing.kernelSeconds[variant.kernelName(gemm)] ?? 0
                rates[gemm] = seconds > 0 ? flops(gemm) / seconds / 1e9 : 0
                totalSeconds += seconds
                totalFlops += flops(gemm)
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

    /// Whether two runs trained the same bits: every candidate's final weights, biases, activation
    /// parameters, loss history and final training metrics (bit patterns, so -0 and 0 differ).
    public static func sameBits(_ a: PopulationTrainingResult, _ b: PopulationTrainingResult) -> Bool {
        func bits(_ r: CandidateResult) -> [UInt64] {
            r.weights.layers.flatMap { ($0.weight + $0.bias).map { UInt64($0.bitPattern) } }
                + r.activationParameters.flatMap { $0.map { UInt64($0.bitPattern) } }
                + (r.history.map(\.train) + [r.finalTrain]).flatMap { [$0.loss.bitPattern, $0.accuracy.bitPattern] }
        }
        return a.candidates.count == b.candidates.count && zip(a.candidates, b.candidates).allSatisfy { bits($0) == bits($1) }
    }
}
