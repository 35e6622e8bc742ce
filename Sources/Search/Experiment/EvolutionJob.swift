import Datasets
import Foundation
import GPUEngine
import Kernels

/// One complete evolution on real data, as `afsearch evolve` and each cell of the experiment run it:
/// load and split the data (study 2's protocol), evolve with every generation trained as one population
/// on the device, then retrain the best network and the standard one on Train1 ∪ Train2 and score both on
/// the test set at the last epoch. Writes `evolution.json` and `report.html` into the run folder.
public struct EvolutionJob {
    public var settings: EvolutionSettings
    public var recipe: Study2Recipe
    /// Trains the populations; its network must be the recipe's.
    public var backend: Study2TrainingBackend
    public var store: (any StudyStore)?
    /// Where `evolution.json` and `report.html` go; nil writes nothing.
    public var folder: URL?
    public var dataRoot: URL
    /// Expression identity for dedup: canonical form, then output fingerprint (the expression language's).
    public var identity: CandidateIdentity
    /// Data already loaded with this recipe (the experiment loads each dataset once); nil loads it.
    public var preloaded: Study2Recipe.Data?
    /// The island this job evolves in its study (`settings.islands` set), nil for a run without islands.
    public var island: Int?

    public init(settings: EvolutionSettings, recipe: Study2Recipe, backend: Study2TrainingBackend, store: (any StudyStore)?,
                folder: URL?, dataRoot: URL = DatasetRegistry.defaultDataRoot, identity: CandidateIdentity = .expressionLanguage) {
        self.settings = settings
        self.recipe = recipe
        self.backend = backend
        self.store = store
        self.folder = folder
        self.dataRoot = dataRoot
        self.identity = identity
    }

    /// The reference evaluator of the expression language, for screening.
    public static let screen = ExpressionScreen { expression, x in expression.evaluate(x) }

    public func run(progress: ((GenerationRecord) -> Void)? = nil,
                    status: ((String) -> Void)? = nil) async throws -> EvolutionResult {
        try settings.validate()
        try recipe.validate()
        let data = try preloaded ?? recipe.load(dataRoot: dataRoot)
        status?("data: \(recipe.dataset), Train1 \(data.search.train.rowCount) rows, Train2 \(data.search.validation.rowCount), "
                + "test \(data.search.test.rowCount); \(data.featureCount) features, \(data.classCount) classes; \(backend.networkDescription)")
        guard try backend.trains(recipe) else {
            throw EvolutionError.invalidSetting("the trainer backend trains the \(backend.networkDescription), not the recipe's "
                                                + (recipe.architecture.map { "CNN \($0)" } ?? "FCN \(recipe.network)"))
        }
        let searchEvaluator = PopulationEvaluator(
            backend: backend, setup: recipe.searchSetup(trainRows: data.search.train.rowCount, seed: settings.seed),
            splits: data.search, identity: identity, store: store)
        let evolution = try EvolutionRun(settings: settings, evaluator: searchEvaluator, store: store, screen: Self.screen,
                                         compileClock: { [backend] in backend.compileSeconds }, island: island)
        var result = try await evolution.run(progress: progress)
        result.dataset = recipe.dataset
        result.network = recipe.architecture == nil ? recipe.network : nil
        result.architecture = recipe.architecture

        status?("final: retraining on Train1 ∪ Train2 (\(data.final.train.rowCount) rows) for \(recipe.finalEpochs) epoch\(recipe.finalEpochs == 1 ? "" : "s")")
        // the chosen network and the standard one retrain together: one population, one program
        let finalSetup = recipe.finalSetup(trainRows: data.final.train.rowCount, seed: settings.seed)
        let standard = try settings.standardExpression()
        let standardNetwork = [standard, standard, standard]
        let population = result.best.expressions == standardNetwork ? [standardNetwork] : [result.best.expressions, standardNetwork]
        let retrained = try await backend.train(population: population, setup: finalSetup, splits: data.final, evaluateTest: true)
        guard retrained.count == population.count else {
            throw EvaluationError.backendResultCount(expected: population.count, got: retrained.count)
        }
        result.finalTest = PopulationEvaluator.testScore(retrained[0], setup: finalSetup)
        result.standardTest = PopulationEvaluator.testScore(retrained[population.count - 1], setup: finalSetup)
        if let store, let number = result.bestTrialNumber, var trial = try store.trial(number: number) {
            trial.testAccuracy = result.finalTest?.testAccuracy
            try store.update([trial])
        }
        if let folder {
            try result.write(to: folder)
            try RunReport.write(folder: folder)
        }
        return result
    }
}
