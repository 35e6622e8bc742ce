import Foundation
import Kernels
import Datasets

/// Trains a population of CNNs on one OpenCL device, all candidates in the same launches: convolutions
/// as implicit GEMMs with bias and the candidate's activation fused in the epilogue, 2×2 max-pooling that
/// keeps its argmax, dropout from a counter RNG keyed by the candidate's seed, and the MLP trainer's
/// Linear, loss and Adam kernels. Every weight and feature map is per candidate; the input batch is shared.
///
/// An optimiser step over more images than `microBatchImages` runs as several micro-batches whose
/// gradients are summed in order (the loss is still the mean over the whole batch). Like the MLP trainer,
/// a candidate's numbers never depend on its neighbours, the chunking or the population size.
public final class PopulationCNNTrainer: @unchecked Sendable {
    public let device: ComputeDevice
    public var tile: TileShape?
    /// Whose choices the trainer makes (tile, build options); nil: `$AFSEARCH_PROFILE`, else the device's
    /// own kind. `.gpu` on PoCL runs a GPU's path (`DeviceProfile`).
    public var profile: DeviceProfile?
    /// Device memory for one chunk; default 60 % of the device's global memory.
    public var memoryBudgetBytes: Int?
    public var maxChunkSize: Int?
    /// Images per device pass; memory per candidate grows linearly with it.
    public var microBatchImages = 64
    /// Wait for the device after every stage and report where the time goes (slower; for benchmarks).
    public var profileStages = false
    /// Fused compiled activations (default), or the activation interpreter for populations of new
    /// expressions (evolution): see `ActivationExecution`.
    public var activationExecution: ActivationExecution = .compiled
    let activationSource: PopulationProgram.ActivationSource
    let cache: ProgramCache

    /// With the project's activation code generator.
    public convenience init(device: ComputeDevice, cache: ProgramCache = .shared) {
        self.init(device: device, cache: cache, activationSource: { try ActivationCodegen.checkedSource(for: $0) })
    }

    public init(device: ComputeDevice, cache: ProgramCache = .shared,
                activationSource: @escaping @Sendable ([ActivationExpr]) throws -> String) {
        self.device = device
        self.cache = cache
        self.activationSource = activationSource
    }

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
        let (profile, tile) = try tuning(inputChannels: shape[0], architecture: architecture)
        guard tile.vectors <= 2 else {
            throw TrainerError.invalidSpec("tile \(tile.rows)x\(tile.vectorWidth)x\(tile.vectors): the CNN kernels hold one or two vectors "
                + "per tile row; choose a tile with vectors 1 or 2")
        }
        var clock = ContinuousClock.now
        let pop = try PopulationProgram(candidates: candidates.map { Candidate(activations: $0.activations) }, tile: tile,
                                        activationSource: activationSource, execution: activationExecution)
        let program = try device.program(source: pop.source + "\n" + Self.layerKernels, options: profile.buildOptions, cache: cache)
        timing.compileSeconds = PopulationTrainer.seconds(since: clock)

        let batch = min(config.batchSize ?? train.rowCount, train.rowCount)
        let plan = try CNNPlan(architecture: architecture, inputShape: shape, tile: tile,
                               capacityImages: min(batch, max(1, microBatchImages)), kmax: pop.kmax)
        let chunk = try chunkSize(plan: plan, population: candidates.count)
        var results: [CNNCandidateResult?] = Array(repeating: nil, count: candidates.count)
        var chunks = 0
        var stageSeconds: [String: Double] = [:]
        for start in stride(from: 0, to: candidates.count, by: chunk) {
            let members = Array(start..<min(start + chunk, candidates.count))
            clock = ContinuousClock.now
            var initial: [(params: [Float], mirror: [Float])] = [], seeds: [UInt32] = []
            for i in members {
                let seed = candidates[i].effectiveSeed(runSeed: config.seed, index: i)
                let w = try candidates[i].initialWeights ?? CNNWeights.initial(architecture: architecture, inputShape: shape, seed: seed)
                initial.append(plan.pack(w, activationParameters: candidates[i].startingActivationParameters()))
                seeds.append(NoiseKey.seed32(seed))
            }
            let session = try CNNSession(device: device, program: program, plan: plan,
                                         activationIDs: members.map { pop.activationIDs[$0] },
                                         parameterCounts: members.map { pop.parameterCounts[$0] }, initial: initial, seeds: seeds,
                                         optimizer: config.optimizer, needsAccumulation: batch > plan.capacityImages,
                                         tapes: pop.tapes, tapeOffsets: members.map { pop.tapeOffsets[$0] })
            session.profile = profileStages
            let run = CNNChunkRun(session: session, parameterCounts: members.map { pop.parameterCounts[$0] }, config: config, train: train, validation: validation, test: test, progress: progress)
            for (k, r) in try run.execute(timing: &timing).enumerated() { results[members[k]] = r }
            stageSeconds.merge(session.stageSeconds, uniquingKeysWith: +)
            chunks += 1
        }
        return CNNTrainingResult(candidates: results.map { $0! }, timing: timing, chunks: chunks, microBatchImages: plan.capacityImages,
                                 stageSeconds: stageSeconds, activationExecution: pop.execution)
    }

    /// kernels/cnn_layers.cl, cnn_conv.cl and cnn_linear.cl, in that order, as embedded at build time (an
    /// installed binary never reads kernels from the working directory).
    static var layerKernels: String {
        return [KernelTemplates.cnn_layers, KernelTemplates.cnn_conv, KernelTemplates.cnn_linear].joined(separator: "\n")
    }

    /// The profile this run takes (`DeviceProfile.resolve`) and the tile: `tile` when set, else the profile's
    /// choice for the input channels and each conv/Linear layer's outputs.
    func tuning(inputChannels: Int, architecture: NetworkArchitecture) throws -> (profile: DeviceProfile, tile: TileShape) {
        let profile = try DeviceProfile.resolve(self.profile, device: device)
        let channels = architecture.layers.compactMap { l -> Int? in
            switch l { case .conv(_, _, let c, _, _), .linear(let c, _): return c; default: return nil }
        }
        return (profile, tile ?? TileShape.choose(for: profile.hint(for: device), widths: [inputChannels] + channels))
    }

    func chunkSize(plan: CNNPlan, population: Int) throws -> Int {
        let budget = PopulationChunking.budget(memoryBudgetBytes, device: device)
        guard let size = PopulationChunking.size(
            budget: budget, device: device, bytesPerCandidate: plan.bytesPerCandidate,
            largestBufferBytesPerCandidate: plan.largestBufferBytesPerCandidate,
            maxChunkSize: maxChunkSize, population: population)
        else {
            throw TrainerError.doesNotFit(
                "one CNN candidate needs \(plan.bytesPerCandidate) bytes at \(plan.capacityImages) images per micro-batch "
                + "(largest buffer \(plan.largestBufferBytesPerCandidate)); budget \(budget) bytes, largest allocation "
                + "\(device.info.maxAllocationBytes) bytes on \(device.info.name); lower microBatchImages")
        }
        return size
    }

    func validate(candidates: [CNNCandidate], architecture: NetworkArchitecture, shape: [Int], config: TrainingConfig,
                  splits: [(name: String, data: LabeledData?)]) throws {
        let asMLP = candidates.map { Candidate(activations: $0.activations) }
        // The shared checks (population, config, splits) through a stand-in MLP spec of the right sizes.
        let slots = architecture.slotCount
        let stand = try MLPSpec(widths: [shape.reduce(1, *)] + Array(repeating: 2, count: slots) + [max(2, architecture.classCount)],
                                slotOfLayer: Array(0..<slots), lastLayerActivation: false)
        try TrainingInputCheck.validate(candidates: asMLP, spec: stand, config: config, splits: splits)
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
        for (i, c) in candidates.enumerated() {
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
}

/// The epoch loop of one chunk of CNN candidates.
struct CNNChunkRun {
    let session: CNNSession
    /// Per member, per slot: how many learnable activation parameters it has.
    let parameterCounts: [[Int]]
    let config: TrainingConfig
    let train: LabeledData
    let validation: LabeledData?
    let test: LabeledData?
    let progress: ((EpochProgress) -> Void)?

    func execute(timing: inout TrainingTiming) throws -> [CNNCandidateResult] {
        let s = session, P = s.count, n = train.rowCount, cap = s.plan.capacityImages
        var clock = ContinuousClock.now
        try s.upload(split: "train", train)
        if let validation { try s.upload(split: "validation", validation) }
        if let test { try s.upload(split: "test", test) }
        let batch = min(config.batchSize ?? n, n)
        var ledger = EpochLedger(count: P, earlyStopping: config.earlyStopping)
        var step = 0
        var evalSeconds = 0.0
        for epoch in 0..<config.epochs {
            if ledger.allFrozen { break }
            try s.trainMetrics.fill(0)
            let shuffled = batch < n
            if shuffled { s.order = try s.device.buffer(EpochShuffle.order(rows: n, seed: config.seed, epoch: epoch)) }
            for start in stride(from: 0, to: n, by: batch) {
                let rows = min(batch, n - start)
                for (micro, mstart) in stride(from: 0, to: rows, by: cap).enumerated() {
                    let images = min(cap, rows - mstart)
                    let pass = DropoutMask.pass(step: step, micro: micro)
                    try s.gather(split: "train", start: start + mstart, images: images, useOrder: shuffled)
                    try s.forward(images: images, training: true, pass: pass)
                    try s.loss(images: images, batchImages: rows, training: true, pass: pass, metrics: s.trainMetrics)
                    try s.backward(images: images, pass: pass, firstMicroBatch: micro == 0)
                }
                try s.update(step: step, config: config)
                step += 1
            }
            let metrics = try s.trainMetrics.download()
            let statuses = try s.status.download()
            let evalClock = ContinuousClock.now
            var val: [(lossSum: Double, hits: Double)]?, tst: [(lossSum: Double, hits: Double)]?
            if config.evaluateEveryEpoch {
                if validation != nil { val = try s.evaluate(split: "validation") }
                if test != nil { tst = try s.evaluate(split: "test") }
            }
            evalSeconds += PopulationTrainer.seconds(since: evalClock)
            let newStatus = ledger.record(epoch: epoch, trainSums: metrics, trainRows: n, statuses: statuses,
                                          validation: val.map { ($0, validation!.rowCount) }, test: tst.map { ($0, test!.rowCount) })
            if newStatus != statuses { try s.status.upload(newStatus) }
            progress?(ledger.progress(epoch: epoch, epochs: config.epochs))
        }
        timing.trainSeconds += PopulationTrainer.seconds(since: clock) - evalSeconds
        timing.evaluateSeconds += evalSeconds

        clock = ContinuousClock.now
        let finalTrain = try s.evaluate(split: "train")
        let finalVal = try validation.map { _ in try s.evaluate(split: "validation") }
        let finalTest = try test.map { _ in try s.evaluate(split: "test") }
        let params = try s.params.download()
        timing.evaluateSeconds += PopulationTrainer.seconds(since: clock)
        let stride = s.plan.parameterStride
        return (0..<P).map { k in
            CNNCandidateResult(history: ledger.histories[k], diverged: ledger.diverged[k], stoppedEarly: ledger.stopped[k],
                               finalTrain: EpochLedger.metrics(finalTrain[k], n),
                               finalValidation: finalVal.map { EpochLedger.metrics($0[k], validation!.rowCount) },
                               finalTest: finalTest.map { EpochLedger.metrics($0[k], test!.rowCount) },
                               weights: s.plan.unpack(params[(k * stride)..<((k + 1) * stride)]),
                               activationParameters: s.plan.activationParameters(params[(k * stride)..<((k + 1) * stride)],
                                                                                 counts: parameterCounts[k]))
        }
    }
}
