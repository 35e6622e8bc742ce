import Foundation
import Kernels
import Datasets

/// Trains a population of CNNs on one OpenCL device, all candidates in the same launches: convolutions
/// as implicit GEMMs with bias and the candidate's activation fused in the epilogue, 2×2 max-pooling that
/// keeps its argmax, dropout from a counter RNG keyed by the candidate's seed, and the MLP trainer's
/// Linear, loss and Adam kernels. Every weight and feature map is per candidate; the input batch is shared
/// (in a `CNNPool` whose candidates are at different epochs, each has its own).
///
/// An optimiser step over more images than `microBatchImages` runs as several micro-batches whose
/// gradients are summed in order (the loss is still the mean over the whole batch). Like the MLP trainer,
/// a candidate's numbers never depend on its neighbours, the chunking or the population size.
public final class PopulationCNNTrainer: PopulationTrainerBase, @unchecked Sendable {
    /// Images per device pass; memory per candidate grows linearly with it.
    public var microBatchImages = 64

    /// `inputShape` ([C, H, W]) defaults to the training split's `imageShape`.
    public func train(candidates: [CNNCandidate], architecture: NetworkArchitecture, inputShape: [Int]? = nil,
                      config: TrainingConfig, train: LabeledData, validation: LabeledData? = nil, test: LabeledData? = nil,
                      progress: ((EpochProgress) -> Void)? = nil) throws -> CNNTrainingResult {
        guard let shape = inputShape ?? train.imageShape else {
            throw TrainerError.invalidData(split: "training", problem: "has no image shape; pass inputShape [channels, height, width]")
        }
        try validate(candidates: candidates, architecture: architecture, shape: shape, config: config,
                     splits: [("training", train), ("validation", validation), ("test", test)])
        var timing = TrainingTiming()
        let (profile, tile, gemm) = try checkedTuning(inputChannels: shape[0], architecture: architecture)
        let clock = ContinuousClock.now
        let pop = try PopulationProgram(candidates: candidates.map { Candidate(activations: $0.activations) }, tile: tile,
                                        activationSource: activationSource, execution: activationExecution)
        let program = try device.program(source: pop.source + "\n" + Self.layerKernels, options: gemm.buildOptions(after: profile.buildOptions),
                                         cache: cache)
        timing.compileSeconds = PopulationTrainer.seconds(since: clock)

        let batch = min(config.batchSize ?? train.rowCount, train.rowCount)
        let plan = try CNNPlan(architecture: architecture, inputShape: shape, tile: tile,
                               capacityImages: min(batch, max(1, microBatchImages)), kmax: pop.kmax)
        let chunk = try chunkSize(plan: plan, population: candidates.count)
        var results: [CNNCandidateResult?] = Array(repeating: nil, count: candidates.count)
        var chunks = 0
        for start in stride(from: 0, to: candidates.count, by: chunk) {
            let members = Array(start..<min(start + chunk, candidates.count))
            let starts = try members.map { i in
                try candidates[i].startingPoint(runSeed: config.seed, index: i) {
                    try CNNWeights.initial(architecture: architecture, inputShape: shape, seed: $0)
                }
            }
            let counts = members.map { pop.parameterCounts[$0] }
            let session = try CNNSession(device: device, profile: profile, gemm: gemm, program: program, plan: plan,
                                         activationIDs: members.map { pop.activationIDs[$0] }, parameterCounts: counts,
                                         initial: starts.map { plan.pack($0.weights, activationParameters: $0.activationParameters) },
                                         seeds: starts.map(\.seed32), optimizer: config.optimizer,
                                         needsAccumulation: batch > plan.capacityImages,
                                         tapes: pop.tapes, tapeOffsets: members.map { pop.tapeOffsets[$0] })
            session.profiling = profileKernels
            let trained = try EpochLoop.run(session, parameterCounts: counts, config: config, train: train, validation: validation,
                                            test: test, progress: progress, timing: &timing)
            for (k, r) in trained.enumerated() { results[members[k]] = r }
            chunks += 1
        }
        return CNNTrainingResult(candidates: results.map { $0! }, timing: timing, chunks: chunks,
                                 activationExecution: pop.execution, microBatchImages: plan.capacityImages)
    }

    /// kernels/cnn_layers.cl, cnn_conv.cl, cnn_linear.cl and cnn_conv_staged.cl (compiled only under a staged
    /// variant's -DMLP_STAGED), in that order, as embedded at build time (an installed binary never reads
    /// kernels from the working directory).
    static var layerKernels: String {
        return [KernelTemplates.cnn_layers, KernelTemplates.cnn_conv, KernelTemplates.cnn_linear,
                KernelTemplates.cnn_conv_staged].joined(separator: "\n")
    }

    /// The profile this run takes (`DeviceProfile.resolve`), the tile and the GEMMs' variant (whose tile it is),
    /// as the MLP trainer chooses them (`GEMMVariant.resolve` for the CNN's kernels): `tile` when set, else
    /// `gemm`'s, else the profile's choice for the input channels and each conv/Linear layer's outputs.
    func tuning(inputChannels: Int, architecture: NetworkArchitecture) throws -> (profile: DeviceProfile, tile: TileShape, gemm: GEMMVariant) {
        let profile = try DeviceProfile.resolve(self.profile, device: device)
        let channels = architecture.layers.compactMap { l -> Int? in
            switch l { case .conv(_, _, let c, _, _), .linear(let c, _): return c; default: return nil }
        }
        let variant = try GEMMVariant.resolve(explicit: gemm, tile: tile, profile: profile, device: device, tuning: gemmTuning,
                                              widths: [inputChannels] + channels, network: .cnn)
        return (profile, variant.tile, variant)
    }

    /// `tuning`, refusing a tile the CNN kernels cannot run.
    func checkedTuning(inputChannels: Int, architecture: NetworkArchitecture) throws -> (profile: DeviceProfile, tile: TileShape, gemm: GEMMVariant) {
        let tuned = try tuning(inputChannels: inputChannels, architecture: architecture)
        let tile = tuned.tile
        guard tile.vectors <= 2 else {
            throw TrainerError.invalidSpec("tile \(tile.rows)x\(tile.vectorWidth)x\(tile.vectors): the CNN kernels hold one or two vectors "
                + "per tile row; choose a tile with vectors 1 or 2")
        }
        return tuned
    }

    /// How many candidates of `plan` one chunk (or a pool, with its per-candidate input batches as
    /// `ownBatchBytes`) holds, at most `population`.
    func chunkSize(plan: CNNPlan, population: Int, ownBatchBytes: Int = 0) throws -> Int {
        let bytes = plan.bytesPerCandidate + ownBatchBytes
        return try chunkSize(bytesPerCandidate: bytes, largestBufferBytesPerCandidate: max(plan.largestBufferBytesPerCandidate, ownBatchBytes),
                             population: population,
                             needs: "one CNN candidate needs \(bytes) bytes at \(plan.capacityImages) images per micro-batch",
                             advice: "; lower microBatchImages")
    }

    /// An MLP spec with the architecture's input size, slots and classes, for `TrainingInputCheck`.
    static func standIn(architecture: NetworkArchitecture, shape: [Int]) throws -> MLPSpec {
        let slots = architecture.slotCount
        return try MLPSpec(widths: [shape.reduce(1, *)] + Array(repeating: 2, count: slots) + [max(2, architecture.classCount)],
                           slotOfLayer: Array(0..<slots), lastLayerActivation: false)
    }

    func validate(candidates: [CNNCandidate], architecture: NetworkArchitecture, shape: [Int], config: TrainingConfig,
                  splits: [(name: String, data: LabeledData?)]) throws {
        // The shared checks (population, config, splits) through a stand-in MLP spec of the right sizes.
        try TrainingInputCheck.validate(candidates: candidates.map { Candidate(activations: $0.activations) },
                                        spec: Self.standIn(architecture: architecture, shape: shape), config: config, splits: splits)
        for (i, c) in candidates.enumerated() { try validate(candidate: c, index: i, architecture: architecture, shape: shape) }
    }

    /// What one candidate must be for this architecture (the pool checks each as it enters).
    func validate(candidate c: CNNCandidate, index i: Int, architecture: NetworkArchitecture, shape: [Int]) throws {
        try TrainingInputCheck.validate(candidate: Candidate(activations: c.activations), index: i,
                                        spec: Self.standIn(architecture: architecture, shape: shape))
        // Where a layer-wise function (softmax family) may go: a slot that activates only Linear layers
        // whose outputs no dropout changes in place (its backward pass needs the function's own output).
        var layerwiseProblem: [Int: String] = [:]
        for (i, layer) in architecture.layers.enumerated() {
            switch layer {
            case .conv(let kh, let kw, _, _, let slot?):
                layerwiseProblem[slot] = layerwiseProblem[slot] ?? "it activates layer \(i) (conv\(kh)x\(kw)); the CNN trainer applies "
                    + "layer-wise functions (softmax family) to Linear layers only"
            case .linear(_, let slot?):
                let next = architecture.layers[(i + 1)...].first { if case .flatten = $0 { return false } else { return true } }
                if case .dropout(let rate)? = next, rate > 0 {
                    layerwiseProblem[slot] = layerwiseProblem[slot] ?? "dropout follows its Linear layer \(i); the CNN trainer does "
                        + "not support a layer-wise function (softmax family) whose output is dropped"
                }
            default: break
            }
        }
        for (s, e) in c.activations.enumerated() where e.isLayerwise {
            if let problem = layerwiseProblem[s] {
                throw TrainerError.invalidCandidate(index: i, problem: "slot \(s) holds \(e): \(problem)")
            }
        }
        if let given = c.initialActivationParameters {
            let expected = c.activations.map { $0.isLayerwise ? 0 : $0.parameterCount }
            guard given.map(\.count) == expected else {
                throw TrainerError.invalidCandidate(index: i, problem: "initial activation parameters have counts "
                    + "\(given.map(\.count)) per slot; its expressions have \(expected)")
            }
        }
        if let w = c.initialWeights {
            let expected = try CNNWeights.shapes(architecture: architecture, inputShape: shape)
            let matches = w.layers.count == expected.count
                && zip(w.layers, expected).allSatisfy { $0.shape == $1.shape && $0.index == $1.index }
            guard matches else {
                throw TrainerError.invalidCandidate(index: i, problem: "initial weights have "
                    + w.layers.map { "layers.\($0.index) \($0.shape)" }.joined(separator: ", ") + "; the architecture needs "
                    + expected.map { "layers.\($0.index) \($0.shape)" }.joined(separator: ", "))
            }
        }
    }
}
