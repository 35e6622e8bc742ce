import ArgumentParser
import Datasets
import Foundation
import GPUEngine
import Kernels

/// `afsearch train`: one network (a population of one) or a population from a file, on one device.
struct TrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train one network, or a population from a file, and print train/test accuracy per epoch.",
        discussion: """
        The network is Linear layers features → --layers … → classes. --activations has one entry per Linear \
        layer: the hidden layers' activations and, optionally, the output layer's (applied to the logits before \
        softmax cross-entropy; `none`/`identity` for no output activation). An entry is an expression such as \
        `x*sigmoid(x)`, or a function name (`relu` = relu(x)).

        --population-file F: one comma-separated activation list per line (`#` starts a comment); every line is a \
        candidate and all train at once.

        Weights (safetensors, PyTorch names and layouts): `layers.N.weight` (out × in) and `layers.N.bias`. A \
        population of one uses exactly those names, so the file loads into a PyTorch module with an \
        nn.ModuleList `layers`. A population stores candidate I as `candidate.I.layers.N.weight` / `.bias` in one \
        file. --init-weights accepts either form; an unprefixed file starts every candidate from the same weights.

        --arch A trains the network the architecture spec describes instead of --layers (not both): `cnn` (study \
        2's CNN: conv3x3:32,pool2,conv3x3:64,pool2,flatten,dropout:0.5,fc:1000,fc:10, three activation slots), \
        `fcn` (study 2's FCN) or a spec string such as conv3x3:8,pool2,flatten,fc:10. Every conv and every fc \
        layer but the last is followed by an activation slot (`@N` suffixes share slots); --activations (and each \
        line of --population-file) gives exactly one activation per slot. A network with convolutions needs an \
        image dataset (fashion-mnist, mnist-5k, sklearn/digits, IDX files) and trains on the CNN population \
        trainer; its weights are stored as `layers.N.weight` (out × in × kh × kw for a convolution) and \
        `layers.N.bias`, N the layer's position in the spec, so they load into a module whose `layers` is the \
        nn.Sequential of the spec's layers (activations applied after them, not counted). Study 2's CNN is heavy \
        for a CPU (about 24 MFLOP per image forward): try a few hundred images first.
        """
    )

    @Option(name: .long, help: "A registry name (see `afsearch datasets`) or a file (.csv with a header and the label last, .dat, .arff, IDX).")
    var dataset: String

    @Option(name: .long, help: "Hidden layer widths, comma-separated (default 64,64,64).")
    var layers: String?

    @Option(name: .long, help: "Architecture instead of --layers: cnn, fcn, or a spec such as conv3x3:8,pool2,flatten,fc:10.")
    var arch: String?

    @Option(name: .long, help: "One activation per Linear layer, comma-separated (the output one optional); with --arch one per slot.")
    var activations: String?

    @Option(name: .long, help: "Train one candidate per line of this file instead of --activations.")
    var populationFile: String?

    @Option(name: .long, help: "Epochs.")
    var epochs = 100

    @Option(name: .long, help: "Learning rate.")
    var lr = 0.001

    @Option(name: .long, help: "Mini-batch size (default: full batch).")
    var batch: Int?

    @Option(name: .long, help: "Seed of the initial weights, the split and the shuffle.")
    var seed: UInt64 = 0

    @Option(name: .long, help: "adam or sgd.")
    var optimizer: OptimizerName = .adam

    @Option(name: .long, help: "SGD momentum.")
    var momentum = 0.0

    @Option(name: .long, help: "Held-out test fraction when the dataset has no official test set.")
    var testFraction = 0.3

    /// Stop a candidate when its training accuracy improves by less than 0.001 for 10 epochs (study 1's rule).
    @Flag(name: .long, help: "Study 1's early stopping (accuracy gain < 0.001 for 10 epochs).")
    var earlyStopping = false

    @Option(name: .long, help: "Start from these weights (safetensors).")
    var initWeights: String?

    @Option(name: .long, help: "Write the final weights here (safetensors).")
    var saveWeights: String?

    @Option(name: .long, help: "Device index or name substring (default: $AFSEARCH_DEVICE, else first GPU, else first CPU).")
    var device: String?

    @Flag(name: .long, help: "Print one JSON object instead of text.")
    var json = false

    enum OptimizerName: String, ExpressibleByArgument, CaseIterable { case adam, sgd }

    func validate() throws {
        guard (activations == nil) != (populationFile == nil) else {
            throw ValidationError("give exactly one of --activations and --population-file")
        }
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1, got \(epochs)") }
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be a positive number, got \(lr)") }
        if let batch, batch < 1 { throw ValidationError("--batch must be at least 1, got \(batch)") }
        guard testFraction > 0, testFraction < 1 else { throw ValidationError("--test-fraction must be in (0, 1), got \(testFraction)") }
        if arch != nil, layers != nil {
            throw ValidationError("give either --layers (hidden widths of a fully connected network) or --arch (an architecture spec), not both")
        }
        _ = try architecture()
        _ = try hiddenWidths()
    }

    /// The parsed --arch, or nil for the --layers network.
    func architecture() throws -> NetworkArchitecture? {
        guard let arch else { return nil }
        do { return try NetworkArchitecture.named(arch) } catch {
            throw ValidationError("--arch '\(arch)': \(error)")
        }
    }

    /// The candidates' activation lists, from --activations or --population-file, each with where it came from.
    func activationLists() throws -> [(location: String, activations: [ActivationExpr])] {
        if let activations {
            return [("--activations", try ActivationLists.parse(activations, location: "--activations"))]
        }
        let path = populationFile!
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ValidationError("--population-file: cannot read \(path)")
        }
        return try ActivationLists.parseFile(text, name: path).map { ("\(path):\($0.line)", $0.activations) }
    }

    func hiddenWidths() throws -> [Int] {
        let parts = (layers ?? "64,64,64").split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        if parts == [""] { return [] }
        return try parts.map { part in
            guard let w = Int(part), w >= 1 else { throw ValidationError("--layers: '\(part)' is not a positive width (expected e.g. 64,64,64)") }
            return w
        }
    }

    func run() async throws {
        if let architecture = try architecture() {
            try runArchitecture(architecture)
            return
        }
        let hidden = try hiddenWidths()
        let lists = try activationLists()
        let (slotsPerCandidate, outputActivation) = try Self.slots(lists, hiddenCount: hidden.count)

        let data = try TrainingData.load(dataset, testFraction: testFraction, seed: seed)
        let widths = [data.train.featureCount] + hidden + [data.train.classCount]
        let spec = try MLPSpec(widths: widths, lastLayerActivation: outputActivation)

        var candidates = slotsPerCandidate.map { Candidate(activations: $0) }
        if let initWeights {
            let file = try SafetensorsFile(contentsOf: URL(fileURLWithPath: initWeights))
            let starts = try Self.initialWeights(file, source: initWeights, widths: widths, population: candidates.count)
            for i in candidates.indices { candidates[i].initialWeights = starts[i] }
        }
        let config = trainingConfig()

        let device = try ComputeDevice.select(device)
        let trainer = PopulationTrainer(device: device)
        if !json {
            print("dataset \(data.name): \(data.train.rowCount) train / \(data.test.rowCount) test rows, "
                  + "\(data.train.featureCount) features, \(data.train.classCount) classes (\(data.testSource))")
            print("network \(widths.map(String.init).joined(separator: "→")), \(candidates.count) candidate(s), device \(device.info.name)")
        }
        let result = try trainer.train(candidates: candidates, spec: spec, config: config, train: data.train, test: data.test)

        if let saveWeights {
            var file = SafetensorsFile(metadata: [
                "afsearch.widths": widths.map(String.init).joined(separator: ","),
                "afsearch.dataset": data.name,
            ])
            for (i, c) in result.candidates.enumerated() {
                c.weights.store(into: &file, prefix: candidates.count == 1 ? "" : LinearStackWeights.candidatePrefix(i))
                file.metadata[candidates.count == 1 ? "afsearch.activations" : "afsearch.candidate.\(i).activations"] =
                    slotsPerCandidate[i].map(\.description).joined(separator: ", ")
            }
            try file.write(to: URL(fileURLWithPath: saveWeights))
        }
        if json {
            try printBenchJSON(TrainReport(candidates: result.candidates, timing: result.timing, lists: slotsPerCandidate, widths: widths))
        } else {
            printText(result.candidates, timing: result.timing, chunks: result.chunks, slots: slotsPerCandidate)
        }
    }

    /// Hidden slots, plus the output slot when any list gives a non-identity output activation.
    static func slots(_ lists: [(location: String, activations: [ActivationExpr])], hiddenCount: Int) throws -> ([[ActivationExpr]], Bool) {
        for list in lists where list.activations.count != hiddenCount && list.activations.count != hiddenCount + 1 {
            throw ValidationError("\(list.location): \(list.activations.count) activations for \(hiddenCount) hidden layers; "
                                  + "expected \(hiddenCount) (hidden only) or \(hiddenCount + 1) (hidden + output)")
        }
        let output = lists.contains { $0.activations.count == hiddenCount + 1 && $0.activations[hiddenCount] != .x }
        let slots = lists.map { list -> [ActivationExpr] in
            let hiddenPart = Array(list.activations.prefix(hiddenCount))
            guard output else { return hiddenPart }
            return hiddenPart + [list.activations.count > hiddenCount ? list.activations[hiddenCount] : .x]
        }
        return (slots, output)
    }

    static func initialWeights(_ file: SafetensorsFile, source: String, widths: [Int], population: Int) throws -> [LinearStackWeights] {
        if file.tensors["layers.0.weight"] != nil {
            let w = try LinearStackWeights(from: file, expectedWidths: widths, source: source)
            return Array(repeating: w, count: population)
        }
        let all = try LinearStackWeights.population(from: file, source: source)
        guard all.count == population else {
            throw ValidationError("--init-weights \(source): holds \(all.count) candidates (candidate.I.layers.*) but the population has \(population); "
                                  + "give one set per candidate or an unprefixed layers.* set for all")
        }
        for (i, w) in all.enumerated() where w.widths != widths {
            throw ValidationError("--init-weights \(source): candidate \(i) has widths \(w.widths) but the network is \(widths)")
        }
        return all
    }

    func printText(_ candidates: [any TrainedNetwork], timing: TrainingTiming, chunks: Int, slots: [[ActivationExpr]]) {
        if candidates.count == 1, let c = candidates.first {
            print("epoch   train loss  train acc   test loss  test acc")
            for e in c.history {
                let test = e.test.map { String(format: "%10.4f %9.4f", $0.loss, $0.accuracy) } ?? ""
                print(String(format: "%5d %12.4f %10.4f ", e.epoch + 1, e.train.loss, e.train.accuracy) + test)
            }
        } else {
            print("cand  epochs  train acc  test acc  activations")
        }
        for (i, c) in candidates.enumerated() {
            let status = c.diverged ? " DIVERGED" : c.stoppedEarly ? " (stopped early)" : ""
            let test = c.finalTest.map { String(format: "%8.4f", $0.accuracy) } ?? "       -"
            if candidates.count == 1 {
                print(String(format: "final: train acc %.4f, test acc %@, %d epochs%@", c.finalTrain.accuracy, test.trimmingCharacters(in: .whitespaces), c.epochsRun, status))
            } else {
                print(String(format: "%4d  %6d  %9.4f  %@  %@%@", i, c.epochsRun, c.finalTrain.accuracy, test,
                             slots[i].map(\.description).joined(separator: ", "), status))
            }
        }
        print(String(format: "time: compile %.2f s, train %.2f s, evaluate %.2f s, %d chunk(s)",
                     timing.compileSeconds, timing.trainSeconds, timing.evaluateSeconds, chunks))
        if let saveWeights { print("weights written to \(saveWeights)") }
    }
}

/// What `afsearch train --json` prints.
struct TrainReport: Encodable {
    struct Epoch: Encodable {
        var epoch: Int
        var trainLoss: Double, trainAccuracy: Double
        var testLoss: Double?, testAccuracy: Double?
    }
    struct CandidateReport: Encodable {
        var activations: [String]
        var diverged: Bool
        var stoppedEarly: Bool
        var finalTrainAccuracy: Double
        var finalTestAccuracy: Double?
        var history: [Epoch]
    }
    /// The --layers network's widths (nil with --arch).
    var widths: [Int]?
    /// The --arch network's spec with explicit slots (nil with --layers).
    var architecture: String?
    var candidates: [CandidateReport]
    var compileSeconds: Double, trainSeconds: Double, evaluateSeconds: Double

    init(candidates results: [any TrainedNetwork], timing: TrainingTiming, lists: [[ActivationExpr]],
         widths: [Int]? = nil, architecture: String? = nil) {
        self.widths = widths
        self.architecture = architecture
        candidates = zip(results, lists).map { c, list in
            CandidateReport(
                activations: list.map(\.description), diverged: c.diverged, stoppedEarly: c.stoppedEarly,
                finalTrainAccuracy: c.finalTrain.accuracy, finalTestAccuracy: c.finalTest?.accuracy,
                history: c.history.map { Epoch(epoch: $0.epoch, trainLoss: $0.train.loss, trainAccuracy: $0.train.accuracy,
                                                testLoss: $0.test?.loss, testAccuracy: $0.test?.accuracy) })
        }
        compileSeconds = timing.compileSeconds
        trainSeconds = timing.trainSeconds
        evaluateSeconds = timing.evaluateSeconds
    }
}

/// What `train` prints of one trained candidate, from either population trainer.
protocol TrainedNetwork {
    var history: [EpochMetrics] { get }
    var diverged: Bool { get }
    var stoppedEarly: Bool { get }
    var finalTrain: SplitMetrics { get }
    var finalTest: SplitMetrics? { get }
    var epochsRun: Int { get }
}

extension CandidateResult: TrainedNetwork {}
extension CNNCandidateResult: TrainedNetwork {}

/// A dataset split for `train`: the official test set when there is one, else a stratified held-out part;
/// features standardised with the training rows' statistics.
struct TrainingData {
    var name: String
    var train: LabeledData
    var test: LabeledData
    var testSource: String
    /// What the features were standardised with (one mean/std for images, per feature for tables).
    var standardization: Standardization

    static func load(_ nameOrPath: String, testFraction: Double, seed: UInt64) throws -> TrainingData {
        let dataset = try DatasetRegistry.load(nameOrPath)
        let train: LabeledData, test: LabeledData, source: String
        if let official = dataset.officialTest {
            (train, test, source) = (dataset.data, official, "official test set")
        } else {
            let split = dataset.data.stratifiedSplit(heldOutFraction: testFraction, seed: seed)
            (train, test, source) = (split.kept, split.heldOut, "stratified \(Int((testFraction * 100).rounded()))% held out, seed \(seed)")
        }
        let standardization = train.imageShape == nil ? Standardization.fit(train) : Standardization.fitScalar(train)
        return TrainingData(name: dataset.name, train: standardization.apply(train), test: standardization.apply(test), testSource: source,
                            standardization: standardization)
    }
}
