import ArgumentParser
import Datasets
import Foundation
import GPUEngine
import Kernels
import Search

/// `afsearch alacarte`: study 1's search, one activation per layer chosen from a menu.
struct AlacarteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alacarte",
        abstract: "Choose one activation per layer from a menu by random search or TPE.",
        discussion: """
            Every trial is stored in runs/<study>/study.sqlite (or --storage) as soon as it finishes; re-running \
            with the same --study (or --resume) continues after a crash with no finished trial lost or repeated. \
            The best network by the objective (validation accuracy unless --objective train) is scored once on \
            the test split.

            Workers: the same command started several times on one --storage (different devices, processes or \
            machines; PostgreSQL across machines) works on one study. --trials is the study's total; each worker \
            claims its next trial, sees every finished trial, beats a heartbeat, and requeues the claims of a \
            worker silent for --stale-after seconds. `afsearch workers --devices all -- alacarte …` starts one \
            per device.
            """)

    @Option(name: .long, help: "A registry name (see `afsearch datasets`) or a data file.")
    var dataset: String

    @Option(name: [.customLong("depth"), .customLong("layers")],
            help: "Linear layers, each with its own activation (the last included); --layers is the old spelling (train's --layers are hidden widths).")
    var layers = 5

    @Option(name: .long, help: "Trials in all (study 1: 1000).")
    var trials = 100

    @Option(name: .long, help: "random or tpe.")
    var sampler: SamplerKind = .tpe

    @Option(name: .long, help: ArgumentHelp(
        "Slots of the trainer's pool: trials training at once, each slot refilled as its trial stops (with "
            + "--trainer reference: trials per round, default \(Self.referencePopulation)). " + PoolWidthDefault.help,
        valueName: "n"))
    var population: Int?

    /// `--population` of the rounds the reference trainer runs (it has no pool to fill).
    static let referencePopulation = 64

    @OptionGroup var training: AlacarteTrainingOptions

    @Option(name: .long, help: "Study name (default: <dataset>-L<layers>-<sampler>-s<seed>).")
    var study: String?

    @Flag(name: .long, help: "Continue an existing study, and fail if there is none (the same command again also continues it; more --trials extend it).")
    var resume = false

    @OptionGroup var storageOptions: StorageOptions

    @OptionGroup var workerOptions: WorkerOptions

    @Flag(name: .long, help: "No progress line.")
    var quiet = false

    @Flag(name: .long, help: "Print the result as one JSON object.")
    var json = false

    @Flag(name: .long, help: "Also print where the time went (sampler overhead, store, training).")
    var verbose = false

    func validate() throws {
        try checkCount(layers, option: "--depth", max: 1_000)
        try checkCount(trials, option: "--trials", max: 10_000_000)
        if let population { try checkCount(population, option: "--population", max: 1_000_000) }
        if dataset.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--dataset is empty; expected a registry name (see `afsearch datasets`) or a data file")
        }
        if let study { try checkStudyName(study) }
    }

    func run() async throws {
        // Everything that can fail on the user's input fails before the study folder exists.
        let menu = try training.menuChoices()
        let setup = training.setup(layers: layers, seed: training.seed)
        var settings = AlaCarteSettings(
            dataset: dataset, layers: layers, trials: trials, sampler: sampler, population: population ?? Self.referencePopulation,
            seed: training.seed, menuName: menu.name, menuEntries: menu.choices.map(\.name), training: setup)
        do { try settings.validate() } catch { throw ValidationError("\(error)") }
        let space = try AlaCarteSpace(menu: menu.choices, layers: layers)
        let storage = try storageOptions.resolve()
        let name = study ?? "\(dataset.replacingOccurrences(of: "/", with: "_"))-L\(layers)-\(sampler.rawValue)-s\(training.seed)"
        try checkStudyName(name)
        let exists = try storage.exists(name)
        if resume && !exists {
            throw CommandFailure("nothing to resume: no study '\(name)' in \(storage) (known: \(try storage.names().joined(separator: ", ")))")
        }
        let backend = try training.backend()
        let splits = try AlacarteData.splits(dataset: dataset, seed: training.seed, options: training)
        if exists, !quiet, !json {
            FileHandle.standardError.write(Data("continuing study '\(name)' (\(storage))\n".utf8))
        }
        // Without --population: the width the study started with, else the one that fills this device (cached,
        // else measured now, before the study folder exists).
        var origin = ""
        if population == nil {
            if exists, let started = try? storage.openForReading(name).settings(as: AlaCarteSettings.self) {
                (settings.population, origin) = (started.population, " (the study's own, as it started)")
            } else {
                (settings.population, origin) = try PoolWidthDefault.resolve(
                    backend: backend, setup: setup, splits: splits, workload: "\(dataset), \(layers) layers",
                    constant: Self.referencePopulation, quiet: quiet || json)
            }
        }
        let chosen = settings

        let newFolder = NewRunFolder(try storageOptions.folder(of: name))
        let outcome = try await newFolder.run { () async throws -> AlaCarteOutcome in
            let store = try storage.open(name, create: true)
            let evaluator = PopulationEvaluator(backend: backend, setup: setup, splits: splits,
                                                identity: .expressionLanguage, store: store)
            let search = try AlaCarteStudy(space: space, settings: chosen, evaluator: evaluator, store: store)
            search.adoptsStoredPopulation = population == nil
            if !quiet && !json {
                let batches: String = setup.batchSize.map { "mini-batches of \($0), " } ?? ""
                FileHandle.standardError.write(Data((
                    "study \(name): \(dataset) (\(splits.train.rowCount) train / \(splits.validation.rowCount) validation / "
                    + "\(splits.test.rowCount) test rows), \(layers) layers × \(menu.choices.count) \(menu.name) choices, "
                    + "\(sampler.rawValue), population \(chosen.population)\(origin), \(batches)\(backend.deviceDescription)\n").utf8))
            }
            let line = ProgressLine(enabled: !quiet && !json)
            let outcome = try await search.run(policy: workerOptions.policy) { progress in
                if progress.trialsDone > 0 { newFolder.markProgress() }
                line.update(Self.describe(progress))
            }
            line.finish()
            return outcome
        }

        if json {
            try JSONOutput.print(outcome)
            return
        }
        print("best trial #\(outcome.bestTrialNumber) of \(outcome.trialsFinished): \(settings.training.objective.rawValue) accuracy "
              + String(format: "%.4f", outcome.bestObjective) + ", test accuracy " + String(format: "%.4f", outcome.test.testAccuracy))
        for (layer, choice) in outcome.bestChoices.enumerated() {
            print("  layer \(layer): \(choice)  [\(outcome.bestExpressions[layer])]")
        }
        if outcome.trialsResumed > 0 { print("(\(outcome.trialsResumed) trials came from an earlier run)") }
        if outcome.trialsTrainedHere + outcome.duplicatesSkipped < outcome.trialsFinished - outcome.trialsResumed {
            print("(this worker trained \(outcome.trialsTrainedHere); the others came from other workers)")
        }
        if outcome.claimsRequeued > 0 { print("(\(outcome.claimsRequeued) stale claims of stopped workers were requeued)") }
        if verbose {
            print(String(format: "time: wall %.2f s, training %.2f s, sampler %.3f s (%.2f%% of wall), store %.3f s; "
                         + "%d duplicates skipped, %d diverged",
                         outcome.wallSeconds, outcome.evaluateSeconds, outcome.samplerSeconds,
                         outcome.samplerOverhead * 100, outcome.storeSeconds, outcome.duplicatesSkipped,
                         outcome.divergedCount))
        }
    }

    static func describe(_ p: AlaCarteProgress) -> String {
        let best = p.bestObjective.map { String(format: "%.4f", $0) } ?? "-"
        let eta = p.etaSeconds.map(ProgressLine.duration) ?? "-"
        return "trials \(p.trialsDone)/\(p.trialsTarget)  best \(best)  "
            + String(format: "%.1f trials/s", p.trialsPerSecond) + "  ETA \(eta)"
    }
}

/// Training, menu and data flags shared by `alacarte` and `experiment alacarte`.
struct AlacarteTrainingOptions: ParsableArguments {
    @Option(name: .long, help: "Menu of activations: paper1 (study 1's 48), or a comma-separated list of expressions.")
    var menu = "paper1"

    @Option(name: .long, help: "Epochs at most (study 1: 300; default 100 for alacarte, 20 for the experiment).")
    var epochs: Int?

    @Option(name: .long, help: "Adam learning rate.")
    var lr = 0.001

    @Option(name: .long, help: "Mini-batch size (default: full batch, study 1's protocol); each epoch's batches in a shuffle of its own.")
    var batch: Int?

    @Option(name: .long, help: "Stop a candidate when training accuracy gains < 0.001 for this many epochs; 0 = never.")
    var patience = 10

    @Option(name: .long, help: "validation (default) or train (study 1's own selection).")
    var objective: ObjectiveSplit = .validation

    @Option(name: .long, help: "Seed of the split, the samplers and the initial weights.")
    var seed: UInt64 = 0

    @Option(name: .long, help: "Fraction of the rows held out for testing.")
    var testFraction = 0.3

    @Option(name: .long, help: "Fraction of the remaining rows used for validation.")
    var validationFraction = 0.2

    @Option(name: .long, help: "opencl (the population trainer) or reference (the plain Swift trainer; slow).")
    var trainer: AlacarteTrainer = .opencl

    @OptionGroup var deviceOptions: DeviceSelectionOptions

    @OptionGroup var dataOptions: DataOptions

    func validate() throws {
        if let epochs { try checkCount(epochs, option: "--epochs", max: TrainCommand.maxEpochs) }
        try checkPositive(lr, option: "--lr")
        if let batch { try checkCount(batch, option: "--batch", max: 100_000_000) }
        try checkCount(patience, option: "--patience", min: 0, max: TrainCommand.maxEpochs)
        try checkFraction(testFraction, option: "--test-fraction", allowZero: false)
        try checkFraction(validationFraction, option: "--validation-fraction", allowZero: true)
        guard objective == .train || validationFraction > 0 else {
            throw ValidationError("--objective validation needs --validation-fraction > 0")
        }
    }

    func setup(layers: Int, seed: UInt64) -> TrainingSetup {
        TrainingSetup(hiddenWidths: Array(repeating: 64, count: max(layers - 1, 0)), slotCount: layers, epochs: epochs ?? 100,
                      learningRate: lr, batchSize: batch, earlyStopPatience: patience > 0 ? patience : nil, seed: seed,
                      objective: objective, selection: .final)
    }

    func menuChoices() throws -> (name: String, choices: [MenuChoice]) {
        try AlacarteMenus.resolve(menu)
    }

    func backend() throws -> TrainerBackend {
        if trainer == .reference { return .reference(identity: .expressionLanguage) }
        // The whole menu in one program: every population of the study then reuses it.
        return .openCL(device: try deviceOptions.select(), identity: .expressionLanguage,
                       vocabulary: try menuChoices().choices.map(\.expression))
    }
}

enum AlacarteData {
    /// Study 1's protocol: stratified 70/30 split from the seed, a validation part of train, standardised
    /// with the statistics of the rows the networks train on.
    static func splits(dataset: String, seed: UInt64, options: AlacarteTrainingOptions) throws -> SearchSplits {
        let data = try options.dataOptions.load(dataset)
        return try split(data.allRows, name: data.name, seed: seed, options: options)
    }

    /// One replicate's split, refused when a part would be empty (a validation accuracy of 0 rows means nothing).
    static func split(_ rows: LabeledData, name: String, seed: UInt64, options: AlacarteTrainingOptions) throws -> SearchSplits {
        let replicate = try Study1Protocol(testFraction: options.testFraction, validationFraction: options.validationFraction)
            .replicate(rows, seed: seed)
        let needsValidation = options.objective == .validation || options.validationFraction > 0
        if replicate.train.rowCount < 2 || replicate.test.rowCount < 1 || (needsValidation && replicate.validation.rowCount < 1) {
            throw CommandFailure("--test-fraction \(formatNumber(options.testFraction)) and --validation-fraction "
                                 + "\(formatNumber(options.validationFraction)) split the \(rows.rowCount) rows of '\(name)' into "
                                 + "\(replicate.train.rowCount) training, \(replicate.validation.rowCount) validation and "
                                 + "\(replicate.test.rowCount) test rows; expected at least 2 training rows and 1 row in each other part")
        }
        return SearchSplits(train: replicate.train, validation: replicate.validation, test: replicate.test)
    }
}

/// Menus by name, or a list of expressions given on the command line.
enum AlacarteMenus {
    static func resolve(_ text: String) throws -> (name: String, choices: [MenuChoice]) {
        if let menu = named(text) { return (text, menu) }
        let parts = topLevelParts(text)
        guard !parts.isEmpty else { throw ValidationError("--menu is empty; expected paper1 or a comma-separated list of expressions") }
        var choices: [MenuChoice] = []
        for part in parts {
            do {
                choices.append(MenuChoice(name: part, expression: try ActivationExpr.parse(part)))
            } catch {
                // A bare function name stands for the function applied to x ("tanh" = "tanh(x)").
                if part.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }),
                   let expression = try? ActivationExpr.parse("\(part)(x)") {
                    choices.append(MenuChoice(name: part, expression: expression))
                    continue
                }
                throw ValidationError("--menu: '\(part)' is neither a known menu (paper1) nor an expression: \(error)")
            }
        }
        guard Set(choices.map(\.name)).count == choices.count else { throw ValidationError("--menu lists an entry twice") }
        return ("custom", choices)
    }

    /// Splits at commas outside parentheses, so `max(x, 0.1*x),tanh` is two entries.
    static func topLevelParts(_ text: String) -> [String] {
        var parts: [String] = [], current = "", depth = 0
        for ch in text {
            if ch == "(" { depth += 1 } else if ch == ")" { depth -= 1 }
            if ch == "," && depth == 0 {
                parts.append(current)
                current = ""
            } else {
                current.append(ch)
            }
        }
        parts.append(current)
        return parts.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// A menu of the expression language; only its one-argument entries (à la carte picks a function of x).
    static func named(_ name: String) -> [MenuChoice]? {
        guard Menu.names.contains(name.lowercased()), let menu = try? Menu.named(name) else { return nil }
        return menu.entries.filter { $0.arity == 1 }.map { MenuChoice(name: $0.name, expression: $0.expression) }
    }
}

/// One status line on stderr: rewritten in place (`\r`) on a terminal, one line per update in a log file.
final class ProgressLine: @unchecked Sendable {
    private let enabled: Bool
    private let terminal = isatty(STDERR_FILENO) != 0
    private var lastLength = 0
    private let lock = NSLock()

    init(enabled: Bool) { self.enabled = enabled }

    func update(_ text: String) {
        guard enabled else { return }
        guard terminal else {
            FileHandle.standardError.write(Data((text + "\n").utf8))
            return
        }
        lock.withLock {
            let padding = String(repeating: " ", count: max(0, lastLength - text.count))
            FileHandle.standardError.write(Data("\r\(text)\(padding)".utf8))
            lastLength = text.count
        }
    }

    func finish() {
        guard enabled, terminal else { return }
        lock.withLock { if lastLength > 0 { FileHandle.standardError.write(Data("\n".utf8)) } }
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? "\(s / 3600)h\(s % 3600 / 60)m" : (s >= 60 ? "\(s / 60)m\(s % 60)s" : "\(s)s")
    }
}

extension SamplerKind: ExpressibleByArgument {}
extension ObjectiveSplit: ExpressibleByArgument {}

/// `alacarte --trainer`: the population trainer on a device, or the plain Swift reference trainer.
enum AlacarteTrainer: String, ExpressibleByArgument, CaseIterable { case opencl, reference }
