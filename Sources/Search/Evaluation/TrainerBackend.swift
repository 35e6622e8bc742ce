import Datasets
import GPUEngine
import Kernels

/// Connects `PopulationEvaluator` to GPUEngine's trainers (the OpenCL `PopulationTrainer`, or the Swift
/// `ReferenceTrainer`), which share one signature.
///
/// Seeds: each candidate gets its own seed derived from the run seed and its function key, not from its
/// position in the population. GPUEngine guarantees that a candidate's result depends only on its seed, so
/// a network trained during the search and the same network retrained alone to be scored on the test
/// set start from the same weights and take the same steps.
public struct TrainerBackend: PopulationTrainingBackend {
    public typealias TrainFunction = @Sendable (
        _ candidates: [Candidate], _ spec: MLPSpec, _ config: TrainingConfig,
        _ train: LabeledData, _ validation: LabeledData?, _ test: LabeledData?
    ) throws -> PopulationTrainingResult

    /// Continuous training (`PopulationPool`): candidates streamed into `slots` slots, each result handed out
    /// as it stops.
    public typealias StreamFunction = @Sendable (
        _ spec: MLPSpec, _ config: TrainingConfig, _ train: LabeledData, _ validation: LabeledData?, _ slots: Int,
        _ next: () throws -> PoolEntry?, _ finished: (PooledResult) throws -> Void, _ boundary: (Int) throws -> Void
    ) throws -> PoolStatistics

    /// The pool width that fills the device for one network and training set (`PoolWidthCache.width`: cached,
    /// else measured); `report` hears of a measurement while it runs.
    public typealias PoolWidthFunction = @Sendable (
        _ spec: MLPSpec, _ config: TrainingConfig, _ train: LabeledData, _ report: (PoolWidthEvent) -> Void
    ) throws -> PoolWidthChoice

    public let deviceDescription: String
    public let identity: CandidateIdentity
    private let trainFunction: TrainFunction
    private let streamFunction: StreamFunction?
    private let poolWidthFunction: PoolWidthFunction?

    public init(deviceDescription: String, identity: CandidateIdentity = .structural, train: @escaping TrainFunction,
                stream: StreamFunction? = nil, poolWidth: PoolWidthFunction? = nil) {
        self.deviceDescription = deviceDescription
        self.identity = identity
        self.trainFunction = train
        self.streamFunction = stream
        self.poolWidthFunction = poolWidth
    }

    /// The plain Swift Double trainer: exact but slow; for tests and machines without OpenCL.
    public static func reference(identity: CandidateIdentity = .structural) -> TrainerBackend {
        TrainerBackend(deviceDescription: "swift reference (cpu, double)", identity: identity) {
            try ReferenceTrainer().train(candidates: $0, spec: $1, config: $2, train: $3, validation: $4, test: $5)
        }
    }

    /// GPUEngine's OpenCL population trainer on `device`, with the expression language's code generator.
    /// `vocabulary`: the menu the populations are drawn from, compiled into one program for all of them
    /// (`PopulationTrainer.vocabulary`); with one, the backend can also stream candidates drawn from it
    /// through a slot pool (`stream`), which refills slots without building programs.
    /// `poolWidths`: where the pool width that fills the device is cached (`poolWidth(setup:splits:report:)`).
    public static func openCL(device: ComputeDevice, identity: CandidateIdentity = .structural,
                              vocabulary: [ActivationExpr] = [], profileKernels: Bool = false,
                              poolWidths: PoolWidthCache = .shared) -> TrainerBackend {
        let trainer = PopulationTrainer(device: device)
        trainer.vocabulary = vocabulary
        trainer.profileKernels = profileKernels
        let stream: StreamFunction = { spec, config, train, validation, slots, next, finished, boundary in
            try PopulationPool(trainer: trainer, spec: spec, config: config, train: train, validation: validation, slots: slots)
                .run(next: next, finished: finished, boundary: boundary)
        }
        let poolWidth: PoolWidthFunction = { spec, config, train, report in
            try poolWidths.width(trainer: trainer, spec: spec, config: config, train: train, report: report)
        }
        return TrainerBackend(deviceDescription: device.info.name, identity: identity, train: {
            try trainer.train(candidates: $0, spec: $1, config: $2, train: $3, validation: $4, test: $5)
        }, stream: vocabulary.isEmpty ? nil : stream, poolWidth: vocabulary.isEmpty ? nil : poolWidth)
    }

    /// The MLP every candidate shares: inputs → hidden widths → classes, one slot per activated layer.
    public static func spec(setup: TrainingSetup, splits: SearchSplits) throws -> MLPSpec {
        let widths = [splits.train.featureCount] + setup.hiddenWidths + [splits.train.classCount]
        let spec = try MLPSpec(widths: widths, lastLayerActivation: setup.slotCount == widths.count - 1)
        guard spec.slotCount == setup.slotCount else {
            throw TrainerError.invalidSpec(
                "\(setup.slotCount) activation slots do not fit \(widths.count - 1) layers (one per layer, or one per hidden layer)")
        }
        return spec
    }

    public static func config(setup: TrainingSetup) -> TrainingConfig {
        TrainingConfig(
            epochs: setup.epochs, learningRate: setup.learningRate, optimizer: .adam(), batchSize: setup.batchSize,
            seed: setup.seed,
            earlyStopping: setup.earlyStopPatience.map { EarlyStopping(patience: $0, minImprovement: setup.earlyStopMinDelta) },
            evaluateEveryEpoch: true)
    }

    /// The candidate a slot list trains as: its seed comes from the run seed and its function key, never from
    /// its position, so batch and stream give it the same weights.
    func candidate(_ activations: SlotActivations, setup: TrainingSetup) -> Candidate {
        Candidate(activations: activations,
                  seed: SeededGenerator.derive(setup.seed, SeededGenerator.stableHash(identity.functionKey(of: activations))))
    }

    static func result(_ history: [EpochMetrics], diverged: Bool, test: Bool) -> CandidateTrainingResult {
        CandidateTrainingResult(
            trainAccuracy: history.map(\.train.accuracy),
            validationAccuracy: history.compactMap { $0.validation?.accuracy },
            testAccuracy: test ? history.compactMap { $0.test?.accuracy } : nil,
            diverged: diverged)
    }

    public func train(population: [SlotActivations], setup: TrainingSetup, splits: SearchSplits, evaluateTest: Bool)
        async throws -> [CandidateTrainingResult]
    {
        let spec = try Self.spec(setup: setup, splits: splits)
        let run = try trainFunction(population.map { candidate($0, setup: setup) }, spec, Self.config(setup: setup),
                                    splits.train, splits.validation.rowCount > 0 ? splits.validation : nil,
                                    evaluateTest ? splits.test : nil)
        return run.candidates.map { Self.result($0.history, diverged: $0.diverged, test: evaluateTest) }
    }

    /// Whether `stream` can train this setup: a pool-capable trainer (full batch or mini-batches).
    public func canStream(setup: TrainingSetup, splits: SearchSplits) -> Bool { streamFunction != nil }

    /// The pool width that fills this backend's device for `setup` on `splits`' training rows: cached for the
    /// device and workload, else measured now (`PoolWidthCache`); nil where the backend does not stream.
    public func poolWidth(setup: TrainingSetup, splits: SearchSplits,
                          report: (PoolWidthEvent) -> Void = { _ in }) throws -> PoolWidthChoice? {
        guard let poolWidthFunction, canStream(setup: setup, splits: splits) else { return nil }
        return try poolWidthFunction(try Self.spec(setup: setup, splits: splits), Self.config(setup: setup), splits.train, report)
    }

    /// Trains the slot lists `next` hands out, `slots` at a time, continuously (`PopulationPool`); `finished`
    /// gets each one's tag and history as it stops. Only where `canStream`.
    public func stream(setup: TrainingSetup, splits: SearchSplits, slots: Int,
                       next: () throws -> (tag: Int, activations: SlotActivations)?,
                       finished: (Int, CandidateTrainingResult) throws -> Void,
                       boundary: (Int) throws -> Void) throws -> PoolStatistics {
        guard let streamFunction, canStream(setup: setup, splits: splits) else {
            throw TrainerError.invalidConfig("this trainer cannot stream candidates (it needs the OpenCL trainer with a menu: PopulationTrainer.vocabulary)")
        }
        return try streamFunction(
            try Self.spec(setup: setup, splits: splits), Self.config(setup: setup), splits.train,
            splits.validation.rowCount > 0 ? splits.validation : nil, slots,
            { try next().map { PoolEntry(tag: $0.tag, candidate: candidate($0.activations, setup: setup)) } },
            { try finished($0.tag, Self.result($0.history, diverged: $0.diverged, test: false)) }, boundary)
    }
}
