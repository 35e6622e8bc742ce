import ArgumentParser
import Datasets
import Foundation
import GPUEngine
import Search

/// `afsearch experiment alacarte`: study 1's replicated comparison of the standard network, random search
/// and TPE, with permutation tests against the standard network.
struct ExperimentAlacarteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alacarte",
        abstract: "Study 1's replicated experiment: standard network vs random search vs TPE.",
        discussion: """
            Per dataset, depth and replicate (a fresh stratified split from the replicate's seed, shared by the \
            methods) the standard network (ReLU hidden layers, no output activation: softmax lives in the \
            cross-entropy), study 1's standard network (ReLU hidden layers, softmax output), the best \
            random-search network and the best TPE network are scored once on the test split. The table (median \
            test accuracy, * p < 0.05, ** p < 0.001 by a permutation test against the standard network; † and ‡ \
            the same against study 1's) is written as table.md, table.csv and table.tex into the run folder, the \
            functions the chosen networks use per layer as functions.md and functions.csv, and report.html. \
            Early stopping (--patience) applies to every network. Re-running \
            the same command resumes: finished cells are kept, an interrupted search continues. The defaults are \
            small enough for a laptop CPU (the 3 smallest datasets of the suite, 3 replicates, 16 trials, 20 \
            epochs); study 1's sizes: --suite-limit 0 --replicates 30 --trials 1000 --population 64 --epochs 300 \
            --depth 5,10 --objective train. A larger --suite-limit (or datasets appended to --datasets) extends a \
            finished experiment: its cells are kept.
            """)

    @Option(name: .long, help: "A dataset suite (see `afsearch datasets --suite`).")
    var suite = "paper1"

    @Option(name: .long, help: "Comma-separated datasets to run instead of the suite.")
    var datasets: CommaSeparated<String>?

    @Option(name: .long, help: "Run only the first N datasets of the suite (it is ordered by size); 0 = all 25.")
    var suiteLimit = 3

    @Option(name: [.customLong("depth"), .customLong("layers")], help: "Comma-separated network depths (Linear layers); --layers is the old spelling.")
    var layers = "5"

    @Option(name: .long, help: "Replicates (fresh splits) per dataset and depth.")
    var replicates = 3

    @Option(name: .long, help: "Trials per search.")
    var trials = 16

    @Option(name: .long, help: ArgumentHelp(
        "Slots of each search's pool (with --trainer reference: trials per round, default \(Self.referencePopulation)). "
            + "Default: per dataset and depth, " + PoolWidthDefault.help.dropFirst("Default: ".count),
        valueName: "n"))
    var population: Int?

    /// `--population` of the rounds the reference trainer runs (it has no pool to fill).
    static let referencePopulation = 16

    @Option(name: .long, help: ArgumentHelp(
        "Comma-separated arms: standard (ReLU, no output activation; the baseline of every test), standard-softmax "
        + "(study 1's standard network: ReLU, softmax output), random, tpe.",
        valueName: "methods"))
    var methods = CommaSeparated<AlaCarteMethod>(AlaCarteMethod.allCases)

    @OptionGroup var training: AlacarteTrainingOptions

    @Option(name: [.customLong("study"), .customLong("name")], help: "Run folder name under the runs folder (default: alacarte-<suite or datasets>); --name is the old spelling.")
    var name: String?

    @OptionGroup var storage: StorageOptions

    @Flag(name: .long, help: "No per-cell lines.")
    var quiet = false

    func validate() throws {
        try checkCount(suiteLimit, option: "--suite-limit", min: 0, max: 10_000)
        try checkCount(replicates, option: "--replicates", max: 10_000)
        try checkCount(trials, option: "--trials", max: 10_000_000)
        if let population { try checkCount(population, option: "--population", max: 1_000_000) }
        if let name { try checkStudyName(name) }
        _ = try depths()
        _ = try datasetNames()
        _ = try methodList()
        _ = try storage.experimentStorage()
    }

    func methodList() throws -> [AlaCarteMethod] {
        let list = methods.values
        guard list.contains(.standard) else {
            throw ValidationError("--methods must include standard: it is the baseline of every significance test")
        }
        guard Set(list).count == list.count else { throw ValidationError("--methods lists a method twice: '\(methods.defaultValueDescription)'") }
        return list
    }

    /// --datasets, or the suite's first --suite-limit datasets.
    func datasetNames() throws -> [String] {
        if let datasets {
            guard !datasets.values.isEmpty else { throw ValidationError("--datasets is empty; expected comma-separated dataset names or files") }
            return datasets.values
        }
        let all: [String]
        do { all = try DatasetRegistry.suite(suite).map(\.name) } catch { throw ValidationError("--suite: \(ErrorText.describe(error))") }
        return suiteLimit > 0 ? Array(all.prefix(suiteLimit)) : all
    }

    func depths() throws -> [Int] {
        let parts = layers.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ ($0 ?? 0) >= 2 && ($0 ?? 0) <= 1_000 }) else {
            throw ValidationError("--depth must be comma-separated depths of at least 2 (e.g. 5,10), got '\(layers)'")
        }
        return parts.map { $0! }
    }

    func run() async throws {
        let names = try datasetNames()
        let menu = try training.menuChoices()
        let settings = AlaCarteExperimentSettings(
            datasets: names, layers: try depths(), replicates: replicates, trials: trials,
            population: population ?? (training.trainer == .reference ? Self.referencePopulation : nil),
            epochs: training.epochs ?? 20, patience: training.patience > 0 ? training.patience : nil,
            learningRate: training.lr, batchSize: training.batch, seed: training.seed, objective: training.objective, methods: try methodList(),
            menuName: menu.name, menuEntries: menu.choices.map(\.name))
        let runName = name ?? "alacarte-" + (datasets == nil ? suite : names.joined(separator: "-"))
            .replacingOccurrences(of: "/", with: "_")
        try StudyCatalog.validate(name: runName)
        let folder = StudyCatalog(root: storage.runsRoot).folder(of: runName)
        let backend = try training.backend()
        let options = training
        // Load each dataset once; replicates re-split it. All of them load (and split) before the run folder
        // exists, so a bad name or file fails with nothing left behind.
        let loaded = LoadedDatasets(options: training.dataOptions)
        for dataset in names {
            _ = try AlacarteData.split(try loaded.rows(dataset), name: dataset, seed: training.seed, options: training)
        }
        var experiment = try AlaCarteExperiment(
            settings: settings, menu: menu.choices, folder: folder,
            splits: { dataset, seed in
                let all = try loaded.rows(dataset)
                let replicate = try Study1Protocol(testFraction: options.testFraction,
                                                   validationFraction: options.validationFraction).replicate(all, seed: seed)
                return SearchSplits(train: replicate.train, validation: replicate.validation, test: replicate.test)
            },
            evaluator: { setup, splits, store in
                PopulationEvaluator(backend: backend, setup: setup, splits: splits, identity: .expressionLanguage, store: store)
            })
        experiment.storage = try storage.experimentStorage()
        let quiet = self.quiet
        let told = LockedState(Set<String>())
        experiment.poolWidth = { setup, splits, cell in
            let (width, origin) = try PoolWidthDefault.resolve(
                backend: backend, setup: setup, splits: splits, workload: "\(cell.dataset), \(cell.layers) layers",
                constant: Self.referencePopulation, quiet: quiet)
            // Once per dataset, depth and width (the replicates' searches share the cached width).
            if !quiet, told.withLock({ $0.insert("\(cell.dataset) L\(cell.layers) \(width)").inserted }) {
                print("\(cell.dataset) L\(cell.layers): population \(width)\(origin)")
            }
            return width
        }
        if !quiet {
            let slots = settings.population.map { "population \($0)" } ?? "population per dataset and depth (fills this device)"
            print("experiment \(runName): \(names.count) dataset(s) × depths \(layers) × \(replicates) replicate(s), "
                  + "\(trials) trials per search, \(slots), \(menu.choices.count) \(menu.name) choices, \(backend.deviceDescription)")
        }
        let started = Date()
        let newFolder = NewRunFolder(folder)
        let table = try await newFolder.run {
            try await experiment.run { cell, result, resumed in
                newFolder.markProgress()
                guard !quiet else { return }
                print("\(cell.dataset) L\(cell.layers) r\(cell.replicate) \(cell.method.rawValue): test "
                      + String(format: "%.4f", result.testAccuracy) + (resumed ? " (done earlier)" : ""))
            }
        }
        print("")
        // The Markdown ends with the wins/ties/losses of each searched method against the standard network.
        print(table.markdown(), terminator: "")
        print("tables: \(folder.appendingPathComponent("table.md").path), table.csv, table.tex, functions.md, functions.csv, "
              + "report.html; "
              + String(format: "%.1f s", Date().timeIntervalSince(started)))
    }
}

/// Datasets loaded once per process (every replicate re-splits the same rows).
final class LoadedDatasets: @unchecked Sendable {
    private let lock = NSLock()
    private var cache: [String: LabeledData] = [:]
    private let options: DataOptions

    init(options: DataOptions) { self.options = options }

    func rows(_ name: String) throws -> LabeledData {
        if let hit = lock.withLock({ cache[name] }) { return hit }
        let rows = try options.load(name).allRows
        lock.withLock { cache[name] = rows }
        return rows
    }
}

extension AlaCarteMethod: ExpressibleByArgument {}
