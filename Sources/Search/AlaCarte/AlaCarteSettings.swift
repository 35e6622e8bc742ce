/// Everything that defines an à la carte study; stored as the study's settings so that `--resume`
/// continues the same search and refuses to mix in trials of a different one.
public struct AlaCarteSettings: Codable, Sendable, Equatable {
    public var dataset: String
    public var layers: Int
    /// Total trials wanted (a resumed study may raise it to search further).
    public var trials: Int
    public var sampler: SamplerKind
    /// Candidates proposed and trained per round (one population on the device).
    public var population: Int
    public var seed: UInt64
    public var menuName: String
    /// Entry names in menu order: a stored trial's parameters refer to these.
    public var menuEntries: [String]
    public var training: TrainingSetup

    public init(dataset: String, layers: Int, trials: Int, sampler: SamplerKind, population: Int, seed: UInt64,
                menuName: String, menuEntries: [String], training: TrainingSetup) {
        self.dataset = dataset
        self.layers = layers
        self.trials = trials
        self.sampler = sampler
        self.population = population
        self.seed = seed
        self.menuName = menuName
        self.menuEntries = menuEntries
        self.training = training
    }

    public func validate() throws {
        guard layers >= 1 else { throw AlaCarteError.invalidSettings("--layers must be at least 1, got \(layers)") }
        guard trials >= 1 else { throw AlaCarteError.invalidSettings("--trials must be at least 1, got \(trials)") }
        guard population >= 1 else {
            throw AlaCarteError.invalidSettings("--population must be at least 1, got \(population)")
        }
        guard training.epochs >= 1 else {
            throw AlaCarteError.invalidSettings("--epochs must be at least 1, got \(training.epochs)")
        }
        guard training.slotCount == layers else {
            throw AlaCarteError.invalidSettings("the network has \(training.slotCount) slots but --layers is \(layers)")
        }
    }

    /// The differences that make `other` a different study (everything but the trial budget).
    public func conflicts(with other: AlaCarteSettings) -> [(key: String, stored: String, requested: String)] {
        var list: [(String, String, String)] = []
        func check<T: Equatable>(_ key: String, _ a: T, _ b: T) {
            if a != b { list.append((key, "\(a)", "\(b)")) }
        }
        check("dataset", dataset, other.dataset)
        check("layers", layers, other.layers)
        check("sampler", sampler.rawValue, other.sampler.rawValue)
        check("population", population, other.population)
        check("seed", seed, other.seed)
        check("menu", menuName, other.menuName)
        check("menu entries", menuEntries, other.menuEntries)
        check("epochs", training.epochs, other.training.epochs)
        check("objective", training.objective.rawValue, other.training.objective.rawValue)
        check("learning rate", training.learningRate, other.training.learningRate)
        check("hidden widths", training.hiddenWidths, other.training.hiddenWidths)
        check("training seed", training.seed, other.training.seed)
        check("batch", training.batchSize.map(String.init) ?? "full", other.training.batchSize.map(String.init) ?? "full")
        check("patience", training.earlyStopPatience.map(String.init) ?? "never", other.training.earlyStopPatience.map(String.init) ?? "never")
        check("early-stopping gain", training.earlyStopMinDelta, other.training.earlyStopMinDelta)
        return list
    }
}
