import ArgumentParser
import Search

/// What `evolve` and `experiment evolution` use for an option left out, per network: a CNN image costs about
/// 100 FCN rows, so a CNN's sizes are smaller. The one table of these defaults; each command names its row.
struct EvolutionDefaults {
    var train: Int, validation: Int, test: Int, finalEpochs: Int, generations: Int
    /// Replicates per method and dataset of `experiment evolution` (`evolve` runs one).
    var replicates: Int

    static let evolve = (fcn: EvolutionDefaults(train: 4000, validation: 1000, test: 2000, finalEpochs: 10, generations: 10, replicates: 1),
                         cnn: EvolutionDefaults(train: 400, validation: 200, test: 500, finalEpochs: 5, generations: 5, replicates: 1))
    static let experiment = (fcn: EvolutionDefaults(train: 1000, validation: 300, test: 1000, finalEpochs: 10, generations: 3, replicates: 3),
                             cnn: EvolutionDefaults(train: 200, validation: 100, test: 200, finalEpochs: 3, generations: 3, replicates: 2))
}

/// A command that takes `EvolutionOptions`, with its row of `EvolutionDefaults`.
protocol EvolutionDefaultsRow {
    static var defaults: (fcn: EvolutionDefaults, cnn: EvolutionDefaults) { get }
}

extension EvolutionDefaultsRow {
    /// `default 10, CNN 5` (or `default 3` where both networks agree), for help texts.
    static func describeDefault(_ value: KeyPath<EvolutionDefaults, Int>) -> String {
        let fcn = defaults.fcn[keyPath: value], cnn = defaults.cnn[keyPath: value]
        return fcn == cnn ? "default \(fcn)" : "default \(fcn), CNN \(cnn)"
    }
}

/// The evolution and data-size options that `evolve` and `experiment evolution` share.
struct EvolutionOptions<Command: EvolutionDefaultsRow>: ParsableArguments {
    @Option(help: "Network: fcn (study 2's fully connected network), cnn (study 2's CNN) or a CNN spec with 3 activation slots.")
    var arch = "fcn"
    @Option(help: "Genome: cgp (study 2) or tree (tree GP over the richer default primitives).")
    var representation: GenomeKind = .cgp
    @Option(help: "es ((1+λ) evolution strategy) or ga (generational GA). Default: es for cgp, ga for tree.")
    var algorithm: AlgorithmKind?
    @Option(help: "Generations per evolution (\(Command.describeDefault(\.generations))).")
    var generations: Int?
    @Option(help: "λ of the (1+λ) ES, or the GA's population size; per population under coevolution.")
    var population = 4
    @Option(help: "The Standard method's activation (and of not-yet-evolved stages): relu or leaky_relu.")
    var standard = "relu"
    @Option(help: "Fitness epochs (best validation accuracy over them).") var epochs = 3
    @Option(help: "Adam learning rate.") var lr = 0.01
    @Option(help: "Epochs of the final retraining on Train1 ∪ Train2 (test accuracy at the last one; \(Command.describeDefault(\.finalEpochs))).")
    var finalEpochs: Int?
    @Option(help: "Train1 rows (search training; \(Command.describeDefault(\.train))).") var trainRows: Int?
    @Option(help: "Train2 rows (search validation; \(Command.describeDefault(\.validation))).") var validationRows: Int?
    @Option(help: "Test rows (a stratified subsample of the official test set; \(Command.describeDefault(\.test))).") var testRows: Int?
    @Flag(help: "Study 2's data sizes: uncapped Train1/Train2/test and 30 final epochs (overrides the row caps).")
    var paperSizes = false
    @Option(help: "Evolution seed (every command's seeds default to 0).") var seed: UInt64 = 0

    func validate() throws {
        if let generations { try checkCount(generations, option: "--generations", max: 1_000_000) }
        try checkCount(population, option: "--population", max: 100_000)
        try checkCount(epochs, option: "--epochs", max: TrainCommand.maxEpochs)
        if let finalEpochs { try checkCount(finalEpochs, option: "--final-epochs", max: TrainCommand.maxEpochs) }
        try checkPositive(lr, option: "--lr")
    }

    /// Whether --arch names a CNN (the recipe parses and checks the spec itself).
    var isCNN: Bool { arch.lowercased() != "fcn" }

    /// The command's defaults for this network.
    var defaults: EvolutionDefaults { isCNN ? Command.defaults.cnn : Command.defaults.fcn }

    /// The settings these options give; `adjust` sets what only one command has before they are validated.
    func settings(method: EvolutionMethod, adjust: (inout EvolutionSettings) throws -> Void = { _ in }) throws -> EvolutionSettings {
        var s = EvolutionSettings(method: method, genome: representation, algorithm: algorithm, generations: generations ?? defaults.generations,
                                  population: population, seed: seed, standardActivation: standard)
        try adjust(&s)
        do { try s.validate() } catch let error as EvolutionError { throw ValidationError(error.description) }
        return s
    }

    /// The data recipe these options give for `dataset`.
    func recipe(dataset: String, network: Study2FCN = .paper, batchFraction: Double = 0.1, dataSeed: UInt64 = 0) throws -> Study2Recipe {
        let d = defaults
        let r = Study2Recipe(dataset: dataset, network: network, epochs: epochs,
                             learningRate: lr, batchFraction: batchFraction, finalEpochs: paperSizes ? 30 : finalEpochs ?? d.finalEpochs,
                             train1Rows: paperSizes ? nil : trainRows ?? d.train, train2Rows: paperSizes ? nil : validationRows ?? d.validation,
                             testRows: paperSizes ? nil : testRows ?? d.test, dataSeed: dataSeed, architecture: isCNN ? arch : nil)
        do { try r.validate() } catch let error as EvolutionError { throw ValidationError(error.description) }
        return r
    }
}
