import ArgumentParser
import Foundation
import GPUEngine
import Search

/// `afsearch experiment evolution`: the five-method table of study 2.
struct ExperimentEvolutionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evolution",
        abstract: "Study 2's five-method experiment: Standard, Random, Evo-Single, Evo-Triple and Coevo on each dataset.",
        discussion: """
        Every method of every replicate is retrained on Train1 ∪ Train2 and scored on the test set at the last \
        epoch; the table gives mean and median test accuracy with permutation tests of the median against \
        Standard, as Markdown, CSV and LaTeX (experiment-evolution.md/.csv/.tex) plus report.html in the run \
        folder. The defaults (sklearn/digits, 3 replicates, 3 generations) finish in minutes on a laptop CPU. \
        Study 2's sizes: --datasets fashion-mnist,mnist-5k --paper-sizes --generations 50 --replicates 10. A killed \
        experiment resumes when run again with the same --name.
        """)

    @Option(help: "Comma-separated datasets.") var datasets = "sklearn/digits"
    @Option(help: "Network: fcn. cnn is not yet supported.") var arch = "fcn"
    @Option(help: "Replicates per method and dataset (the evolution and initialisation seed changes).") var replicates = 3
    @Option(help: "Comma-separated methods (default all five).") var methods = "standard,random,single,triple,coevo"
    @Option(help: "Genome: cgp or tree.") var representation = "cgp"
    @Option(help: "es or ga (default es for cgp, ga for tree).") var algorithm: String?
    @Option(help: "Generations per evolution.") var generations = 3
    @Option(help: "λ of the ES / GA population size, per population.") var population = 4
    @Option(help: "Standard activation: relu or leaky_relu.") var standard = "relu"
    @Option(help: "Fitness epochs.") var epochs = 3
    @Option(help: "Adam learning rate.") var lr = 0.01
    @Option(help: "Epochs of the final retraining.") var finalEpochs = 10
    @Option(help: "Train1 rows.") var trainRows = 1000
    @Option(help: "Train2 rows.") var validationRows = 300
    @Option(help: "Test rows.") var testRows = 1000
    @Flag(help: "Study 2's data sizes (uncapped rows, 30 final epochs).") var paperSizes = false
    @Option(help: "Permutation-test rounds.") var rounds = 10_000
    @Option(help: "First seed (replicate r uses seed + r).") var seed: UInt64 = 1
    @Option(help: "Experiment name: the folder under runs/.") var name = "experiment-evolution"
    @Option(help: "OpenCL device (index or name fragment).") var device: String?
    @Flag(help: "No progress lines.") var quiet = false
    @Flag(help: "Print the result as JSON.") var json = false

    func run() async throws {
        var evolve = try EvolveCommand.parse(["--arch", arch, "--representation", representation, "--generations", String(generations),
                                              "--population", String(population), "--standard", standard, "--epochs", String(epochs),
                                              "--lr", String(lr), "--final-epochs", String(finalEpochs), "--train-rows", String(trainRows),
                                              "--validation-rows", String(validationRows), "--test-rows", String(testRows),
                                              "--seed", String(seed)] + (algorithm.map { ["--algorithm", $0] } ?? [])
                                             + (paperSizes ? ["--paper-sizes"] : []))
        evolve.method = "coevo"
        let base = try evolve.settings()
        let recipe = try evolve.recipe()
        let methodList = try methods.split(separator: ",").map { raw -> EvolutionMethod in
            let text = raw.trimmingCharacters(in: .whitespaces)
            guard let m = EvolutionMethod(rawValue: text) else {
                throw ValidationError("--methods: unknown method '\(text)'; expected \(EvolutionMethod.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return m
        }
        try StudyCatalog.validate(name: name)
        let folder = StudyCatalog().folder(of: name)
        let compute = try ComputeDevice.select(device)
        let trainer = PopulationTrainer(device: compute)
        let experiment = EvolutionExperiment(
            datasets: datasets.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }, methods: methodList,
            replicates: replicates, base: base, recipe: recipe, folder: folder, permutationRounds: rounds) { network in
            Study2TrainingBackend(trainer: trainer, network: network)
        }
        let log: (String) -> Void = { line in if !quiet { EvolutionCLI.stderr(line) } }
        let started = Date()
        let result = try await experiment.run(cellStarted: { log("— \($0)") }, progress: { r in
            log("  gen \(r.generation + 1)\(r.replayed ? " (resumed)" : "")  best \(String(format: "%.4f", r.bestFitnessSoFar))  nets \(r.networks) trained \(r.trained)")
        }, status: { log("  \($0)") })
        log("experiment done in \(EvolutionCLI.duration(Date().timeIntervalSince(started)))")
        if json { print(try EvolutionCLI.json(result)) } else {
            print(result.markdown())
            print("tables: \(folder.path)/experiment-evolution.{md,csv,tex}; report: \(folder.path)/report.html")
        }
    }
}
