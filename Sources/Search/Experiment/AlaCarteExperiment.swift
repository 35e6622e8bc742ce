import Foundation
import Kernels

/// What defines a study-1 experiment; stored in the experiment's database so that a re-run resumes it.
public struct AlaCarteExperimentSettings: Codable, Sendable, Equatable {
    public var datasets: [String]
    public var layers: [Int]
    public var replicates: Int
    public var trials: Int
    /// Slots of each search's pool (candidates per round where it does not stream); nil: each search takes the
    /// width that fills the device for its dataset and depth (`AlaCarteExperiment.poolWidth`).
    public var population: Int?
    public var epochs: Int
    /// Study 1's early stopping: stop a candidate when training accuracy gains < 0.001 for this many epochs
    /// (`nil`: train every candidate for `epochs`).
    public var patience: Int?
    public var learningRate: Double
    /// Mini-batch rows; nil: full batch (study 1's protocol).
    public var batchSize: Int?
    public var seed: UInt64
    public var objective: ObjectiveSplit
    public var methods: [AlaCarteMethod]
    public var menuName: String
    public var menuEntries: [String]

    public init(datasets: [String], layers: [Int], replicates: Int, trials: Int, population: Int?, epochs: Int,
                patience: Int? = nil, learningRate: Double = 0.001, batchSize: Int? = nil, seed: UInt64 = 0, objective: ObjectiveSplit = .validation,
                methods: [AlaCarteMethod] = AlaCarteMethod.allCases, menuName: String, menuEntries: [String]) {
        self.datasets = datasets
        self.layers = layers
        self.replicates = replicates
        self.trials = trials
        self.population = population
        self.epochs = epochs
        self.patience = patience
        self.learningRate = learningRate
        self.batchSize = batchSize
        self.seed = seed
        self.objective = objective
        self.methods = methods
        self.menuName = menuName
        self.menuEntries = menuEntries
    }

    public func validate() throws {
        guard !datasets.isEmpty else { throw AlaCarteError.invalidSettings("no datasets given") }
        guard !layers.isEmpty, layers.allSatisfy({ $0 >= 2 }) else {
            throw AlaCarteError.invalidSettings("--layers needs depths of at least 2, got \(layers)")
        }
        guard replicates >= 1 else { throw AlaCarteError.invalidSettings("--replicates must be at least 1, got \(replicates)") }
        if let population, population < 1 {
            throw AlaCarteError.invalidSettings("--population must be at least 1, got \(population)")
        }
        if let batchSize, batchSize < 1 {
            throw AlaCarteError.invalidSettings("--batch must be at least 1, got \(batchSize)")
        }
        if let patience, patience < 1 {
            throw AlaCarteError.invalidSettings("the early-stopping patience must be at least 1 epoch, got \(patience)")
        }
        guard Set(methods).count == methods.count else {
            throw AlaCarteError.invalidSettings("methods are listed twice: \(methods.map(\.rawValue).joined(separator: ","))")
        }
        guard methods.contains(.standard) else {
            throw AlaCarteError.invalidSettings("the standard network is the baseline of every test; keep it in the methods")
        }
    }

    /// The seed of replicate `r`: it fixes that replicate's split, shared by every method (paired design).
    public func replicateSeed(_ replicate: Int) -> UInt64 { SeededGenerator.derive(seed, UInt64(replicate)) }

    /// `true` when these settings are `stored` with more datasets appended: the stored cells keep their
    /// numbers (datasets are the outermost loop of `cells`), so an experiment can grow one dataset at a time.
    public func extends(_ stored: AlaCarteExperimentSettings) -> Bool {
        var prefix = self
        prefix.datasets = Array(datasets.prefix(stored.datasets.count))
        return datasets.count > stored.datasets.count && prefix == stored
    }

    public func training(layers: Int, replicate: Int) -> TrainingSetup {
        TrainingSetup(hiddenWidths: Array(repeating: 64, count: layers - 1), slotCount: layers, epochs: epochs,
                      learningRate: learningRate, batchSize: batchSize, earlyStopPatience: patience, seed: replicateSeed(replicate),
                      objective: objective, selection: .final)
    }
}

/// Study 1's experiment: per dataset, depth and replicate (a fresh split), the standard network, random
/// search and TPE; then the table with permutation tests against the standard network.
///
/// Layout of the run folder: `experiment.sqlite` holds the settings and one finished row per cell
/// (dataset × depth × replicate × method); each search cell is a full study under `studies/`, so a kill
/// loses at most the unfinished batch of one search, and a re-run skips every finished cell.
public struct AlaCarteExperiment: Sendable {
    public typealias SplitProvider = @Sendable (_ dataset: String, _ replicateSeed: UInt64) throws -> SearchSplits
    public typealias EvaluatorFactory = @Sendable (_ setup: TrainingSetup, _ splits: SearchSplits, _ store: (any StudyStore)?)
        throws -> any CandidateEvaluator
    /// A search's pool width when the settings give none (`TrainerBackend.poolWidth`).
    public typealias PoolWidthProvider = @Sendable (_ setup: TrainingSetup, _ splits: SearchSplits, _ cell: Cell) throws -> Int

    public let settings: AlaCarteExperimentSettings
    public let menu: [MenuChoice]
    public let folder: URL
    /// Where the experiment's studies live when not in the run folder's files: a PostgreSQL storage holds the
    /// experiment's own study (named after the folder) and each search cell's as `<experiment>.<cell>`. The
    /// tables and the report are written to the folder either way.
    public var storage: StudyStorage?
    /// Each search's pool width where `settings.population` is nil; a search already in its store keeps the
    /// width it was started with.
    public var poolWidth: PoolWidthProvider?
    private let splits: SplitProvider
    private let makeEvaluator: EvaluatorFactory

    public init(settings: AlaCarteExperimentSettings, menu: [MenuChoice], folder: URL,
                splits: @escaping SplitProvider, evaluator: @escaping EvaluatorFactory) throws {
        try settings.validate()
        guard menu.map(\.name) == settings.menuEntries else {
            throw AlaCarteError.invalidSettings("menu entries do not match the settings")
        }
        self.settings = settings
        self.menu = menu
        self.folder = folder
        self.splits = splits
        self.makeEvaluator = evaluator
    }

    /// The fixed network of a baseline method: ReLU hidden layers, and no output activation (`standard`) or
    /// softmax (`standard-softmax`, study 1's own).
    public static func baselineNetwork(_ method: AlaCarteMethod, layers: Int) -> SlotActivations {
        let hidden = Array(repeating: ActivationExpr.unary(.relu, .x), count: layers - 1)
        return hidden + [method == .standardSoftmax ? .layerwise(.softmax) : .x]
    }

    public struct Cell: Sendable {
        public var number: Int
        public var dataset: String
        public var layers: Int
        public var replicate: Int
        public var method: AlaCarteMethod
        public var studyName: String { "\(dataset.replacingOccurrences(of: "/", with: "_"))-L\(layers)-r\(replicate)-\(method.rawValue)" }
    }

    public var cells: [Cell] {
        var list: [Cell] = []
        for dataset in settings.datasets {
            for layers in settings.layers {
                for replicate in 0..<settings.replicates {
                    for method in settings.methods {
                        list.append(Cell(number: list.count, dataset: dataset, layers: layers, replicate: replicate, method: method))
                    }
                }
            }
        }
        return list
    }

    /// Runs every unfinished cell (reporting each as it ends), then writes and returns the table.
    public func run(progress: (@Sendable (Cell, AlaCarteCellResult, _ resumed: Bool) -> Void)? = nil) async throws
        -> AlaCarteExperimentTable
    {
        let name = folder.lastPathComponent
        let store: any StudyStore = try storage.map { try $0.open(name, create: true) }
            ?? SQLiteStudyStore(path: folder.appendingPathComponent("experiment.sqlite").path, studyName: name)
        let stored = try store.settings(as: AlaCarteExperimentSettings.self)
        // Without a population of its own, an experiment started with one keeps it.
        var settings = self.settings
        if settings.population == nil, let stored { settings.population = stored.population }
        if let stored, stored != settings, !settings.extends(stored) {
            throw AlaCarteError.storeMismatch(
                "experiment '\(folder.lastPathComponent)' was run with other settings; use another --name or the same "
                + "flags (more datasets may be appended, e.g. a larger --suite-limit)")
        }
        if stored != settings { try store.writeSettings(settings, kind: "experiment-alacarte") }
        let studies = StudyCatalog(root: folder.appendingPathComponent("studies"))
        var results: [AlaCarteCellResult] = []
        var splitCache: (key: String, splits: SearchSplits)?

        for cell in cells {
            if let done = try store.trial(number: cell.number), done.state == .complete, let result = Self.decode(done) {
                results.append(result)
                progress?(cell, result, true)
                continue
            }
            let seed = settings.replicateSeed(cell.replicate)
            let splitKey = "\(cell.dataset)#\(cell.replicate)"
            let data: SearchSplits
            if let cached = splitCache, cached.key == splitKey { data = cached.splits } else {
                data = try splits(cell.dataset, seed)
                splitCache = (splitKey, data)
            }
            let setup = settings.training(layers: cell.layers, replicate: cell.replicate)
            let result: AlaCarteCellResult
            switch cell.method {
            case .standard, .standardSoftmax:
                let evaluator = try makeEvaluator(setup, data, nil)
                let network = Self.baselineNetwork(cell.method, layers: cell.layers)
                let test = try await evaluator.scoreOnTest(network)
                result = AlaCarteCellResult(
                    dataset: cell.dataset, layers: cell.layers, replicate: cell.replicate, method: cell.method,
                    testAccuracy: test.testAccuracy,
                    objective: (settings.objective == .validation ? test.validationAccuracy : test.trainAccuracy) ?? 0,
                    choices: network.map(ExpressionText.render))
            case .random, .tpe:
                let studyStore: any StudyStore = try storage.map { try $0.open("\(name).\(cell.studyName)", create: true) }
                    ?? studies.open(cell.studyName, create: true)
                let evaluator = try makeEvaluator(setup, data, studyStore)
                let space = try AlaCarteSpace(menu: menu, layers: cell.layers)
                let population: Int
                if let fixed = settings.population {
                    population = fixed
                } else if let started = try studyStore.settings(as: AlaCarteSettings.self) {
                    population = started.population
                } else if let poolWidth {
                    population = try poolWidth(setup, data, cell)
                } else {
                    throw AlaCarteError.invalidSettings("the experiment gives no population and no way to choose one")
                }
                let study = try AlaCarteStudy(
                    space: space,
                    settings: AlaCarteSettings(
                        dataset: cell.dataset, layers: cell.layers, trials: settings.trials,
                        sampler: cell.method == .tpe ? .tpe : .random, population: population,
                        seed: SeededGenerator.derive(seed, UInt64(cell.method == .tpe ? 2 : 1)),
                        menuName: settings.menuName, menuEntries: settings.menuEntries, training: setup),
                    evaluator: evaluator, store: studyStore)
                study.adoptsStoredPopulation = settings.population == nil
                let outcome = try await study.run()
                result = AlaCarteCellResult(
                    dataset: cell.dataset, layers: cell.layers, replicate: cell.replicate, method: cell.method,
                    testAccuracy: outcome.test.testAccuracy, objective: outcome.bestObjective, choices: outcome.bestChoices)
            }
            try store.upsert([Self.encode(result, cell: cell)])
            results.append(result)
            progress?(cell, result, false)
        }
        let table = AlaCarteExperimentTable(cells: results, methods: settings.methods,
                                            test: PermutationTest(rounds: 10_000, seed: settings.seed))
        _ = try table.write(to: folder)
        try AlaCarteFunctionUsage(cells: results).write(to: folder)
        if storage == nil { try RunReport.write(folder: folder) } else { try RunReport.write(folder: folder, alaCarteExperiment: store) }
        return table
    }

    static func encode(_ result: AlaCarteCellResult, cell: Cell) -> TrialRecord {
        var parameters = ["dataset": result.dataset, "layers": "\(result.layers)", "replicate": "\(result.replicate)",
                          "method": result.method.rawValue]
        for (layer, choice) in result.choices.enumerated() { parameters["layer\(layer)"] = choice }
        return TrialRecord(number: cell.number, group: "\(result.dataset)/L\(result.layers)", state: .complete,
                           parameters: parameters, expressions: result.choices, objective: result.objective,
                           testAccuracy: result.testAccuracy, finishedAt: Date())
    }

    static func decode(_ record: TrialRecord) -> AlaCarteCellResult? {
        guard let dataset = record.parameters["dataset"], let layers = record.parameters["layers"].flatMap(Int.init),
              let replicate = record.parameters["replicate"].flatMap(Int.init),
              let method = record.parameters["method"].flatMap(AlaCarteMethod.init(rawValue:)),
              let test = record.testAccuracy
        else { return nil }
        return AlaCarteCellResult(dataset: dataset, layers: layers, replicate: replicate, method: method,
                                  testAccuracy: test, objective: record.objective ?? 0, choices: record.expressions)
    }
}
