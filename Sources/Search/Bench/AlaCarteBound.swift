import GPUEngine

/// The fastest a study-1 run could go on a device: its GEMMs at the device's best measured GEMM rate (afsearch's
/// own peak, `afsearch bench gemm`, or the vendor BLAS's on the study's own products, bench/peers/torch_gemm.py,
/// whichever is higher) plus its activation spans at the menu's measured costs (`bench activations`), weighted by
/// the epochs each trial's functions trained; the loss, the optimiser, memory traffic, the host and idle cores
/// cost nothing in it. Beside it the same sum with the GEMMs at the measured FMA throughput, and the GEMMs alone.
/// `bench alacarte --bound` prints it beside each study, with the share of it afsearch reached and the share that
/// 5x the peer would need.
public struct AlaCarteBound: Codable, Sendable {
    /// The GEMM rate the bound prices the GEMMs at: the higher of the two below.
    public var peakGFLOPs: Double
    /// afsearch's measured GEMM peak (`bench gemm`'s tile sweep).
    public var measuredPeakGFLOPs: Double
    /// PyTorch's BLAS on the study's own products, when measured.
    public var vendorGFLOPs: Double?
    /// The device's FP32 FMA throughput (`FMAPeak`), when measured, and the bound with the GEMMs at it: what no
    /// GEMM could beat, with the same activation spans.
    public var fmaPeakGFLOPs: Double?
    public var fmaCandidateEpochsPerSecond: Double?
    /// Per candidate-epoch: the forward over training and validation rows, and the training rows' weight and data
    /// gradients (the first layer has no data gradient), weights only: 2 (n + m) W + 2 n W + 2 n (W - W1).
    public var gemmMFLOP: Double
    public var gemmMicroseconds: Double
    /// Per element per compute unit, averaged over the study's slots weighted by the epochs they trained.
    public var trainNanoseconds: Double
    public var evaluateNanoseconds: Double
    /// Per candidate-epoch: (n train + m evaluate) elements per row, over the device's compute units.
    public var activationMicroseconds: Double
    public var candidateEpochsPerSecond: Double
    /// The bound with free activations: the GEMMs alone.
    public var gemmOnlyCandidateEpochsPerSecond: Double
    /// afsearch's measured candidate-epochs/s over the bound.
    public var share: Double

    /// `widths`: the network's layer widths (inputs first); every layer after the inputs has an activation slot,
    /// as in study 1. A row's elements round each layer up to `spanBody` (the CPU span loops' vector body: a
    /// 10-class logits row is computed over 32). nil when a trial's function has no measured cost.
    public static func compute(run: AlaCarteBenchmark.Run, widths: [Int], costs: [ActivationSpanBench.Cost],
                               peakGFLOPs measured: Double, vendorGFLOPs: Double? = nil, fmaPeakGFLOPs: Double? = nil, computeUnits: Int,
                               spanBody: Int = 32) -> AlaCarteBound? {
        let peakGFLOPs = max(measured, vendorGFLOPs ?? 0)
        guard widths.count >= 2, peakGFLOPs > 0, computeUnits > 0 else { return nil }
        let byName = Dictionary(costs.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var epochs = 0.0, train = 0.0, evaluate = 0.0
        for trial in run.trialLog {
            let e = Double(trial.epochs ?? 0)
            guard e > 0 else { continue }
            for f in trial.functions {
                guard let cost = byName[f] else { return nil }
                train += e * cost.trainNanoseconds
                evaluate += e * cost.evaluateNanoseconds
                epochs += e
            }
        }
        guard epochs > 0 else { return nil }
        let n = Double(run.trainRows), m = Double(run.validationRows)
        let products = zip(widths.dropLast(), widths.dropFirst()).map { Double($0 * $1) }
        let w = products.reduce(0, +)
        let flops = 2 * (n + m) * w + 2 * n * w + 2 * n * (w - products[0])
        let gemm = flops / (peakGFLOPs * 1e9)
        let elementsPerRow = Double(widths.dropFirst().map { ($0 + spanBody - 1) / spanBody * spanBody }.reduce(0, +))
        let trainNs = train / epochs, evaluateNs = evaluate / epochs
        let activation = (n * trainNs + m * evaluateNs) * elementsPerRow * 1e-9 / Double(computeUnits)
        let bound = 1 / (gemm + activation)
        let atFMA = fmaPeakGFLOPs.flatMap { $0 > 0 ? 1 / (flops / ($0 * 1e9) + activation) : nil }
        return AlaCarteBound(peakGFLOPs: peakGFLOPs, measuredPeakGFLOPs: measured, vendorGFLOPs: vendorGFLOPs,
                             fmaPeakGFLOPs: fmaPeakGFLOPs, fmaCandidateEpochsPerSecond: atFMA, gemmMFLOP: flops / 1e6, gemmMicroseconds: gemm * 1e6,
                             trainNanoseconds: trainNs, evaluateNanoseconds: evaluateNs, activationMicroseconds: activation * 1e6,
                             candidateEpochsPerSecond: bound, gemmOnlyCandidateEpochsPerSecond: 1 / gemm, share: run.candidateEpochsPerSecond / bound)
    }
}
