import ArgumentParser
import Datasets
import Foundation
import GPUEngine
import Kernels

/// `afsearch train --arch …`: a network described by an architecture spec. With convolutions it trains on
/// the CNN population trainer; fc-only specs (`fcn`) go to the MLP trainer through `mlpSpec`.
extension TrainCommand {
    func runArchitecture(_ architecture: NetworkArchitecture) throws {
        let lists = try activationLists()
        let slots = architecture.slotCount
        for list in lists where list.activations.count != slots {
            throw ValidationError("\(list.location): \(list.activations.count) activation(s) for the \(slots) activation slot(s) of "
                                  + "--arch \(arch!) (\(architecture.specString)); give exactly \(slots), one per slot")
        }
        let slotsPerCandidate = lists.map(\.activations)
        let device = try checkResources()
        let data = try loadData()
        guard architecture.classCount == data.train.classCount else {
            throw ValidationError("--arch \(arch!) ends in fc:\(architecture.classCount) but '\(data.name)' has "
                                  + "\(data.train.classCount) classes; the last layer must be fc:\(data.train.classCount)")
        }
        guard architecture.hasConvolutions else {
            try runFullyConnected(architecture, data: data, lists: lists, device: device)
            return
        }
        guard let shape = data.train.imageShape else {
            throw ValidationError("--arch \(arch!) has convolutions and needs an image dataset (fashion-mnist, mnist-5k, sklearn/digits, "
                                  + "IDX files); '\(data.name)' is tabular (\(data.train.featureCount) features)")
        }
        try Self.checkFit(architecture, spec: arch!, shape: shape, dataset: data.name)

        var candidates = slotsPerCandidate.map { CNNCandidate(activations: $0) }
        if let initWeights {
            let file = try SafetensorsFile(contentsOf: URL(fileURLWithPath: initWeights))
            let starts = try Self.initialCNNWeights(file, source: initWeights, architecture: architecture, shape: shape,
                                                    population: candidates.count)
            for i in candidates.indices { candidates[i].initialWeights = starts[i] }
        }
        let trainer = PopulationCNNTrainer(device: device)
        let shapeText = shape.map(String.init).joined(separator: "×")
        if !json {
            print("dataset \(data.name): \(data.train.rowCount) train / \(data.test.rowCount) test images of \(shapeText), "
                  + "\(data.train.classCount) classes (\(data.testSource))")
            print("network \(architecture.specString), \(candidates.count) candidate(s), device \(device.info.name)")
        }
        let progress = EpochProgressLine(enabled: !json, streamsRows: candidates.count == 1)
        let result = try Self.naming(lists) {
            try trainer.train(candidates: candidates, architecture: architecture, config: trainingConfig(), train: data.train, test: data.test,
                              progress: progress.report)
        }
        try finish(result.candidates, timing: result.timing, chunks: result.chunks, slots: slotsPerCandidate, progress: progress,
                   architecture: architecture.specString, metadata: [
                       "afsearch.architecture": architecture.specString,
                       "afsearch.input_shape": shape.map(String.init).joined(separator: ","),
                       "afsearch.dataset": data.name,
                       // The network expects (pixel − mean) / std, pixels scaled as the dataset loader scales them.
                       "afsearch.input_mean": data.standardization.mean.map { "\($0)" }.joined(separator: ","),
                       "afsearch.input_std": data.standardization.std.map { "\($0)" }.joined(separator: ","),
                   ])
    }

    /// An fc-only spec (e.g. `fcn`) on the MLP trainer: its slots as the spec numbers them; weights are
    /// `layers.N` with N counting Linear layers, as for --layers.
    private func runFullyConnected(_ architecture: NetworkArchitecture, data: TrainingData,
                                   lists: [(location: String, activations: [ActivationExpr])], device: ComputeDevice) throws {
        let slots = lists.map(\.activations)
        let spec: MLPSpec
        do { spec = try architecture.mlpSpec(inputCount: data.train.featureCount) } catch {
            throw ValidationError("--arch \(arch!): \(error)")
        }
        var candidates = slots.map { Candidate(activations: $0) }
        if let initWeights {
            let file = try SafetensorsFile(contentsOf: URL(fileURLWithPath: initWeights))
            let starts = try Self.initialWeights(file, source: initWeights, widths: spec.widths, population: candidates.count)
            for i in candidates.indices { candidates[i].initialWeights = starts[i] }
        }
        if !json {
            print("dataset \(data.name): \(data.train.rowCount) train / \(data.test.rowCount) test rows, "
                  + "\(data.train.featureCount) features, \(data.train.classCount) classes (\(data.testSource))")
            print("network \(architecture.specString) (\(spec.widths.map(String.init).joined(separator: "→"))), "
                  + "\(candidates.count) candidate(s), device \(device.info.name)")
        }
        let trainer = PopulationTrainer(device: device)
        let progress = EpochProgressLine(enabled: !json, streamsRows: candidates.count == 1)
        let result = try Self.naming(lists) {
            try trainer.train(candidates: candidates, spec: spec, config: trainingConfig(), train: data.train, test: data.test,
                              progress: progress.report)
        }
        try finish(result.candidates, timing: result.timing, chunks: result.chunks, slots: slots, progress: progress,
                   widths: spec.widths, architecture: architecture.specString, metadata: [
                       "afsearch.widths": spec.widths.map(String.init).joined(separator: ","),
                       "afsearch.architecture": architecture.specString,
                       "afsearch.dataset": data.name,
                   ])
    }

    /// Runs `body`; a trainer error about candidate i names where its activation list came from
    /// (`--activations`, or `file:line` of --population-file) instead of its index.
    static func naming<T>(_ lists: [(location: String, activations: [ActivationExpr])], _ body: () throws -> T) throws -> T {
        do { return try body() } catch TrainerError.invalidCandidate(let index, let problem) where lists.indices.contains(index) {
            throw ValidationError("\(lists[index].location): \(problem)")
        }
    }

    func trainingConfig() -> TrainingConfig {
        TrainingConfig(
            epochs: epochs, learningRate: lr,
            optimizer: optimizer == .adam ? .adam() : .sgd(momentum: momentum),
            batchSize: batch, seed: seed, earlyStopping: earlyStopping ? .study1 : nil, evaluateEveryEpoch: true)
    }

    /// The spec's layers must fit the images: every convolution and pooling window inside its input.
    static func checkFit(_ architecture: NetworkArchitecture, spec: String, shape: [Int], dataset: String) throws {
        do { _ = try CNNWeights.shapes(architecture: architecture, inputShape: shape) } catch let error as TrainerError {
            guard case .invalidSpec(let problem) = error else { throw error }
            throw ValidationError("--arch \(spec) does not fit the \(shape.map(String.init).joined(separator: "×")) images of "
                                  + "'\(dataset)': \(problem)")
        }
    }

    /// Starting weights of a CNN population: one unprefixed set (`layers.N.*`) for every candidate, or one
    /// set per candidate under `candidate.I.`.
    static func initialCNNWeights(_ file: SafetensorsFile, source: String, architecture: NetworkArchitecture, shape: [Int],
                                  population: Int) throws -> [CNNWeights] {
        let expected = try CNNWeights.shapes(architecture: architecture, inputShape: shape)
        let first = "layers.\(expected[0].index).weight"
        let describe = { expected.map { "layers.\($0.index).weight \($0.shape)" }.joined(separator: ", ") }
        func load(prefix: String) throws -> CNNWeights {
            do { return try CNNWeights(from: file, prefix: prefix, architecture: architecture, inputShape: shape, source: source) } catch {
                throw ValidationError("--init-weights \(source): \(error); the architecture \(architecture.specString) on "
                                      + "\(shape.map(String.init).joined(separator: "×")) images needs \(describe())")
            }
        }
        if file.tensors[first] != nil {
            return Array(repeating: try load(prefix: ""), count: population)
        }
        var all: [CNNWeights] = []
        while file.tensors[LinearStackWeights.candidatePrefix(all.count) + first] != nil {
            all.append(try load(prefix: LinearStackWeights.candidatePrefix(all.count)))
        }
        guard !all.isEmpty else {
            throw ValidationError("--init-weights \(source): no \(first) (nor candidate.I.\(first)); the architecture "
                                  + "\(architecture.specString) needs \(describe()); the file has "
                                  + file.tensors.keys.sorted().prefix(6).joined(separator: ", "))
        }
        guard all.count == population else {
            throw ValidationError("--init-weights \(source): holds \(all.count) candidates (candidate.I.layers.*) but the population has "
                                  + "\(population); give one set per candidate or an unprefixed layers.* set for all")
        }
        return all
    }
}
