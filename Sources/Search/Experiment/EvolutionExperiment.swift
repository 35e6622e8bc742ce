import Datasets
import Foundation

/// `afsearch experiment evolution`: study 2's five methods on each dataset, `replicates` times each (the
/// evolution and weight-initialisation seed changes per replicate; the data split stays study 2's fixed
/// one), every method scored by the same final protocol (retrain on Train1 ∪ Train2, test accuracy at the
/// last epoch). Each cell is a study in its own folder, so a killed experiment resumes cell by cell and
/// inside the cell it was running.
public struct EvolutionExperiment {
    public var datasets: [String]
    public var methods: [EvolutionMethod]
    public var replicates: Int
    /// Settings shared by every cell; method and seed are set per cell.
    public var base: EvolutionSettings
    /// The data recipe; its dataset is set per cell.
    public var recipe: Study2Recipe
    public var folder: URL
    /// Where the cells' studies live when not in the cell folders' files: a PostgreSQL storage holds each as
    /// `<experiment>.<cell>` (results, tables and reports stay in the folders).
    public var storage: StudyStorage?
    public var permutationRounds: Int
    public var makeBackend: (Study2FCN) -> Study2TrainingBackend
    public var identity: CandidateIdentity
    /// Where registry datasets live and how files are read (`--data-root`, `--impute`, `--label`).
    public var dataRoot: URL = DatasetRegistry.defaultDataRoot
    public var loadOptions = LoadOptions()
    /// `true` (the default): Evo-Single and Evo-Triple evolve populations as large as coevolution's three
    /// together, so every searching method proposes the same number of networks per generation (Random
    /// already gets coevolution's count). `false`: every population has `base.population` individuals, as in
    /// study 2, where the single-population methods get a third of coevolution's evaluations.
    public var equalBudget = true

    public init(datasets: [String], methods: [EvolutionMethod] = EvolutionMethod.allCases, replicates: Int,
                base: EvolutionSettings, recipe: Study2Recipe, folder: URL, permutationRounds: Int = 10_000,
                identity: CandidateIdentity = .expressionLanguage, makeBackend: @escaping (Study2FCN) -> Study2TrainingBackend) {
        self.datasets = datasets
        self.methods = methods
        self.replicates = replicates
        self.base = base
        self.recipe = recipe
        self.folder = folder
        self.permutationRounds = permutationRounds
        self.identity = identity
        self.makeBackend = makeBackend
    }

    /// The settings of `method`'s cells: `base` with the method set and, under `equalBudget`, the
    /// single-population methods' population scaled to coevolution's proposals per generation.
    public func settings(for method: EvolutionMethod, replicate: Int) -> EvolutionSettings {
        var settings = base
        settings.method = method
        settings.seed = base.seed &+ UInt64(replicate)
        if equalBudget, method == .single || method == .triple {
            var coevo = base
            coevo.method = .coevo
            // Coevolution's proposals in a later generation (its first one has no bests to pair with yet).
            settings.population = coevo.networks(inGeneration: 1)
        }
        return settings
    }

    /// Networks proposed by `method` over the whole search (before dedup): its evaluation budget.
    public func budget(of method: EvolutionMethod) -> Int {
        let settings = settings(for: method, replicate: 0)
        return (0..<settings.generations).reduce(0) { $0 + settings.networks(inGeneration: $1) }
    }

    /// One cell's folder name: `<dataset>-<method>-r<replicate>` with the dataset made file-safe.
    public static func cellName(dataset: String, method: EvolutionMethod, replicate: Int) -> String {
        let safe = String(dataset.map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "_" })
        return "\(safe)-\(method.rawValue)-r\(replicate)"
    }

    public func run(cellStarted: ((String) -> Void)? = nil, progress: ((GenerationRecord) -> Void)? = nil,
                    status: ((String) -> Void)? = nil) async throws -> EvolutionExperimentResult {
        guard replicates >= 1 else { throw EvolutionError.invalidSetting("--replicates must be at least 1, got \(replicates)") }
        guard !datasets.isEmpty else { throw EvolutionError.invalidSetting("--datasets is empty") }
        try base.validate()
        try recipe.validate()
        var summaries: [EvolutionMethodSummary] = []
        var device: String?
        for dataset in datasets {
            var cellRecipe = recipe
            cellRecipe.dataset = dataset
            var data: Study2Recipe.Data?
            var perMethod: [EvolutionMethod: EvolutionMethodSummary] = [:]
            for method in methods {
                perMethod[method] = EvolutionMethodSummary(dataset: dataset, method: method, testAccuracies: [],
                                                           searchFitness: [], functions: [], pValueVersusStandard: nil)
            }
            for replicate in 0..<replicates {
                for method in methods {
                    let settings = settings(for: method, replicate: replicate)
                    let name = Self.cellName(dataset: dataset, method: method, replicate: replicate)
                    let cellFolder = folder.appendingPathComponent(name, isDirectory: true)
                    cellStarted?(name)
                    let result: EvolutionResult
                    if let done = try? EvolutionResult.read(from: cellFolder), done.finalTest != nil, done.settings == settings {
                        result = done
                    } else {
                        if data == nil { data = try cellRecipe.load(dataRoot: dataRoot, options: loadOptions) }
                        let store: any StudyStore = try storage.map { try $0.open("\(folder.lastPathComponent).\(name)", create: true) }
                            ?? SQLiteStudyStore(path: cellFolder.appendingPathComponent(StudyCatalog.databaseFileName).path, studyName: name)
                        var job = EvolutionJob(settings: settings, recipe: cellRecipe, backend: makeBackend(cellRecipe.network),
                                               store: store, folder: cellFolder, identity: identity)
                        job.preloaded = data
                        result = try await job.run(progress: progress, status: status)
                    }
                    device = device ?? result.device
                    perMethod[method]!.testAccuracies.append(result.finalTest?.testAccuracy ?? 0)
                    perMethod[method]!.searchFitness.append(result.bestFitness)
                    perMethod[method]!.functions.append(result.best.formulas)
                }
            }
            let test = PermutationTest(rounds: permutationRounds, seed: base.seed)
            if let standard = perMethod[.standard], standard.testAccuracies.count >= 2 {
                for method in methods where method != .standard && perMethod[method]!.testAccuracies.count >= 2 {
                    perMethod[method]!.pValueVersusStandard = test.test(perMethod[method]!.testAccuracies, standard.testAccuracies).pValue
                }
            }
            summaries += methods.map { perMethod[$0]! }
        }
        let network = try recipe.cnnArchitecture().map { "CNN \($0.specString) (slots 0/1/2 = input/hidden/output stage)" }
            ?? "FCN \(recipe.network.width) wide, \(recipe.network.hiddenLayers) hidden-stage layers"
        let budgets = methods.filter { $0 != .standard }.map { "\($0.rawValue) \(budget(of: $0))" }.joined(separator: ", ")
        let note = "\(network); "
            + "\(base.genome.rawValue) \(base.algorithm.rawValue), \(base.generations) generations, population \(base.population)"
            + (equalBudget ? " per coevolving population, \(settings(for: .single, replicate: 0).population) for Evo-Single and Evo-Triple" : "")
            + "; networks proposed per search: \(budgets); "
            + "fitness: best validation accuracy over \(recipe.epochs) epochs (Adam lr \(recipe.learningRate), batch \(recipe.batchFraction) of Train1); "
            + "final: \(recipe.finalEpochs) epochs on Train1 ∪ Train2; row caps Train1 \(recipe.train1Rows.map(String.init) ?? "all"), "
            + "Train2 \(recipe.train2Rows.map(String.init) ?? "all"), test \(recipe.testRows.map(String.init) ?? "all"); device \(device ?? "?")."
        let result = EvolutionExperimentResult(datasets: datasets, methods: methods, replicates: replicates,
                                               summaries: summaries, protocolNote: note)
        try result.write(to: folder)
        try RunReport.write(folder: folder)
        return result
    }
}
