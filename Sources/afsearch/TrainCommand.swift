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

        Data: the official test set when the dataset has one, else a stratified --test-fraction of the rows; \
        --test-dataset FILE tests on your own file instead (same columns and classes; --test-fraction 0 then \
        trains on every row of --dataset). Features are standardised with the training rows' mean and std \
        unless --no-standardize. Progress goes to stderr: a line rewritten after each epoch on a terminal, a \
        line every 10 seconds in a log.
        """
    )

    @Option(name: .long, help: "A registry name (see `afsearch datasets`) or a file (.csv with a header and the label last, .dat, .arff, IDX).")
    var dataset: String

    @Option(name: .long, help: "Test on this dataset or file (same columns and classes) instead of a held-out part; --test-fraction may then be 0.")
    var testDataset: String?

    @OptionGroup var dataOptions: DataOptions

    @Flag(name: .long, help: "Train on the features as loaded, without standardising them with the training rows' mean and std.")
    var noStandardize = false

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

    @Option(name: .long, help: "Held-out test fraction when the dataset has no official test set (default 0.3; 0 with --test-dataset).")
    var testFraction: Double?

    /// Stop a candidate when its training accuracy improves by less than 0.001 for 10 epochs (study 1's rule).
    @Flag(name: .long, help: "Study 1's early stopping (accuracy gain < 0.001 for 10 epochs).")
    var earlyStopping = false

    @Option(name: .long, help: "Start from these weights (safetensors).")
    var initWeights: String?

    @Option(name: .long, help: "Write the final weights here (safetensors).")
    var saveWeights: String?

    @OptionGroup var deviceOptions: DeviceSelectionOptions

    @Flag(name: .long, help: "Print one JSON object instead of text.")
    var json = false

    enum OptimizerName: String, ExpressibleByArgument, CaseIterable { case adam, sgd }

    /// Most epochs one command may ask for (a typo with extra zeros is an error, not a run of days).
    static let maxEpochs = 1_000_000

    func validate() throws {
        guard (activations == nil) != (populationFile == nil) else {
            throw ValidationError("give exactly one of --activations and --population-file")
        }
        try checkCount(epochs, option: "--epochs", max: Self.maxEpochs)
        try checkPositive(lr, option: "--lr")
        if let batch { try checkCount(batch, option: "--batch", max: 100_000_000) }
        guard momentum.isFinite, momentum >= 0, momentum < 1 else {
            throw ValidationError("--momentum must be in [0, 1), got \(formatNumber(momentum))")
        }
        if momentum != 0 && optimizer != .sgd {
            throw ValidationError("--momentum \(formatNumber(momentum)) applies to --optimizer sgd only (Adam has its own moments)")
        }
        if let testFraction { try checkFraction(testFraction, option: "--test-fraction", allowZero: testDataset != nil) }
        if testDataset?.trimmingCharacters(in: .whitespaces).isEmpty == true {
            throw ValidationError("--test-dataset is empty; expected a registry name or a data file")
        }
        if dataset.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--dataset is empty; expected a registry name (see `afsearch datasets`) or a data file")
        }
        if arch != nil, layers != nil {
            throw ValidationError("give either --layers (hidden widths of a fully connected network) or --arch (an architecture spec), not both")
        }
        if let saveWeights, saveWeights.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--save-weights is empty; expected a file path")
        }
        if let initWeights, initWeights.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--init-weights is empty; expected a safetensors file")
        }
        if let populationFile, populationFile.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--population-file is empty; expected a file with one activation list per line")
        }
        _ = try architecture()
        _ = try hiddenWidths()
        if activations != nil { _ = try activationLists() }
    }

    /// Checks what the command will use before any work: the output file can be written, the device exists.
    func checkResources() throws -> ComputeDevice {
        if let saveWeights { try OutputPath.check(saveWeights, option: "--save-weights") }
        return try deviceOptions.select()
    }

    /// The data, split and (unless --no-standardize) standardised, with the split's sizes checked.
    func loadData() throws -> TrainingData {
        let data = try dataOptions.load(dataset)
        let userTest = try testDataset.map { (name: $0, dataset: try dataOptions.load($0)) }
        do {
            return try TrainingData(data, userTest: userTest, testFraction: testFraction, seed: seed, standardize: !noStandardize)
        } catch let error as TrainingDataError {
            if case .noTestSet = error { throw ValidationError(error.description) }
            throw CommandFailure(error.description)
        }
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
            do {
                return [("--activations", try ActivationLists.parse(activations, location: "--activations"))]
            } catch {
                throw ValidationError(error.description)
            }
        }
        let path = populationFile!
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw CommandFailure("--population-file \(ErrorText.describe(error))")
        }
        return try ActivationLists.parseFile(text, name: path).map { ("\(path):\($0.line)", $0.activations) }
    }

    func hiddenWidths() throws -> [Int] {
        let parts = (layers ?? "64,64,64").split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        if parts == [""] {
            throw ValidationError("--layers is empty; expected hidden layer widths such as 64,64,64 (a network needs at least one hidden layer)")
        }
        return try parts.map { part in
            guard let w = Int(part), w >= 1, w <= 1_000_000 else {
                throw ValidationError("--layers: '\(part)' is not a width from 1 to 1000000 (expected e.g. 64,64,64)")
            }
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

        let device = try checkResources()
        let data = try loadData()
        let widths = [data.train.featureCount] + hidden + [data.train.classCount]
        let spec = try MLPSpec(widths: widths, lastLayerActivation: outputActivation)

        var candidates = slotsPerCandidate.map { Candidate(activations: $0) }
        if let initWeights {
            let file = try SafetensorsFile(contentsOf: URL(fileURLWithPath: initWeights))
            let starts = try Self.initialWeights(file, source: initWeights, widths: widths, population: candidates.count)
            for i in candidates.indices { candidates[i].initialWeights = starts[i] }
        }
        let config = trainingConfig()

        let trainer = PopulationTrainer(device: device)
        if !json {
            print("dataset \(data.name): \(data.train.rowCount) train / \(data.test.rowCount) test rows, "
                  + "\(data.train.featureCount) features, \(data.train.classCount) classes (\(data.testSource))")
            print("network \(widths.map(String.init).joined(separator: "→")), \(candidates.count) candidate(s), device \(device.info.name)")
        }
        let progress = EpochProgressLine(enabled: !json, streamsRows: candidates.count == 1)
        let result = try trainer.train(candidates: candidates, spec: spec, config: config, train: data.train, test: data.test,
                                       progress: progress.report)
        try finish(result.candidates, timing: result.timing, chunks: result.chunks, slots: slotsPerCandidate, progress: progress,
                   widths: widths, metadata: ["afsearch.widths": widths.map(String.init).joined(separator: ","), "afsearch.dataset": data.name])
    }

    /// After a training, from either trainer: ends the progress line, writes --save-weights (one unprefixed set for
    /// a single network, `candidate.I.` sets for a population, with `metadata` and each candidate's activations),
    /// then prints the results as text or JSON.
    func finish<W>(_ candidates: [TrainedCandidate<W>], timing: TrainingTiming, chunks: Int, slots: [[ActivationExpr]],
                progress: EpochProgressLine, widths: [Int]? = nil, architecture: String? = nil, metadata: [String: String]) throws {
        progress.finish()
        if let saveWeights {
            var file = SafetensorsFile(metadata: metadata)
            let single = candidates.count == 1
            for (i, c) in candidates.enumerated() {
                c.weights.store(into: &file, prefix: single ? "" : LinearStackWeights.candidatePrefix(i))
                file.metadata[single ? "afsearch.activations" : "afsearch.candidate.\(i).activations"] =
                    slots[i].map(\.description).joined(separator: ", ")
            }
            try file.write(to: URL(fileURLWithPath: saveWeights))
        }
        if json {
            try JSONOutput.print(TrainReport(candidates: candidates, timing: timing, lists: slots, widths: widths, architecture: architecture),
                                 layout: .line)
        } else {
            printText(candidates, timing: timing, chunks: chunks, slots: slots, rowsPrinted: progress.rowsPrinted)
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

    /// `rowsPrinted`: the epoch rows went out as the epochs finished (`EpochProgressLine` with `streamsRows`).
    func printText<W>(_ candidates: [TrainedCandidate<W>], timing: TrainingTiming, chunks: Int, slots: [[ActivationExpr]],
                   rowsPrinted: Bool = false) {
        if candidates.count == 1, let c = candidates.first {
            if !rowsPrinted {
                print(EpochProgressLine.header)
                for e in c.history { print(EpochProgressLine.row(e)) }
            }
            // Why the last row's train accuracy need not equal the final line's (dropout makes it plain on a CNN).
            print("(rows: train loss and accuracy averaged over each epoch's mini-batches while the weights changed, in "
                  + "training mode; final: the whole training set evaluated once after the last epoch)")
        } else {
            print("cand  epochs  train acc  test acc  activations")
        }
        for (i, c) in candidates.enumerated() {
            let status = c.diverged ? " DIVERGED" : c.stoppedEarly ? " (stopped early)" : ""
            let test = c.finalTest.map { String(format: "%8.4f", $0.accuracy) } ?? "       -"
            if candidates.count == 1 {
                print(String(format: "final: train acc %.4f, test acc %@, %d epoch%@%@", c.finalTrain.accuracy, test.trimmingCharacters(in: .whitespaces),
                             c.epochsRun, c.epochsRun == 1 ? "" : "s", status))
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

    init<W>(candidates results: [TrainedCandidate<W>], timing: TrainingTiming, lists: [[ActivationExpr]],
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

/// Where a training is, on stderr: on a terminal one line rewritten after each epoch; in a log (stderr
/// redirected) one line every 10 seconds, so a long run that is killed still shows how far it got. A short
/// run writes nothing to a log.
final class EpochProgressLine: @unchecked Sendable {
    private let enabled: Bool
    /// One network: each epoch's row goes to stdout as the epoch finishes (so a redirected run that is killed
    /// keeps the rows it finished).
    private let streamsRows: Bool
    private(set) var rowsPrinted = false
    static let header = "epoch   train loss  train acc   test loss  test acc"
    static func row(_ e: EpochMetrics) -> String {
        let test = e.test.map { String(format: "%10.4f %9.4f", $0.loss, $0.accuracy) } ?? ""
        return String(format: "%5d %12.4f %10.4f ", e.epoch + 1, e.train.loss, e.train.accuracy) + test
    }
    private let terminal = isatty(STDERR_FILENO) != 0
    private let lock = NSLock()
    private var written = false
    private let start = Date()
    private var lastLogged = Date()
    static let logInterval: TimeInterval = 10

    init(enabled: Bool, streamsRows: Bool = false) {
        self.enabled = enabled
        self.streamsRows = streamsRows
    }

    func report(_ p: EpochProgress) {
        guard enabled else { return }
        if streamsRows, p.metrics.count == 1, let metrics = p.metrics[0] {
            lock.withLock {
                if written { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
                written = false
                if !rowsPrinted { print(Self.header) }
                rowsPrinted = true
                print(Self.row(metrics))
                fflush(nil)  // all C streams: Swift's print buffers stdout when it is not a terminal
            }
        }
        let now = Date()
        let line = String(format: "epoch %d/%d, %d training, best train acc %.4f, %.1f s", p.epoch + 1, p.epochs,
                          p.activeCandidates, p.bestTrainAccuracy, now.timeIntervalSince(start))
        lock.withLock {
            if terminal {
                FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8))
                written = true
            } else if now.timeIntervalSince(lastLogged) >= Self.logInterval {
                FileHandle.standardError.write(Data((line + "\n").utf8))
                lastLogged = now
            }
        }
    }

    func finish() {
        lock.withLock {
            if written { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            written = false
        }
    }
}
