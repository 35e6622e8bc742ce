import ArgumentParser
import Foundation
import GPUEngine
import Search

/// `afsearch experiment evolution`: the five-method table of study 2.
struct ExperimentEvolutionCommand: AsyncParsableCommand, EvolutionDefaultsRow {
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

        --arch cnn runs every method on study 2's CNN (AF1/AF2/AF3 of conv1/conv2/fc1000 as the input/hidden/output \
        stage) through the CNN population trainer, or on a CNN spec with three activation slots. It needs 28×28 \
        images (default dataset mnist-5k) and its defaults are smaller since one CNN image costs about 100 FCN \
        rows: 200 Train1, 100 Train2 and 200 test rows, 3 final epochs, 2 replicates. Even so the five methods \
        took 23 minutes on a busy 2-core CPU through PoCL while every generation still built a CNN program (fitness \
        trainings are interpreted now: bench/README.md, "Evolution timing", measured 1.5x faster generations); \
        fewer --methods or --generations shorten it.
        """)

    @Option(help: "Comma-separated datasets (default sklearn/digits; mnist-5k with a CNN).") var datasets: CommaSeparated<String>?
    @Option(help: "Replicates per method and dataset (the evolution and initialisation seed changes; \(describeDefault(\.replicates))).") var replicates: Int?
    @Option(help: "Comma-separated methods (default all five).") var methods = CommaSeparated<EvolutionMethod>(EvolutionMethod.allCases)
    @OptionGroup var evolution: EvolutionOptions<ExperimentEvolutionCommand>
    @Option(help: "equal: Evo-Single and Evo-Triple evolve one population as large as Coevo's three together, so every search proposes as many networks (Random already does); paper: every population has --population individuals, as study 2.")
    var budget: EvolutionBudget = .equal
    @Option(help: "Permutation-test rounds.") var rounds = 10_000
    @Option(name: [.customLong("study"), .customLong("name")], help: "Experiment name: the folder under runs/ (--name is the old spelling).")
    var name = "experiment-evolution"
    @OptionGroup var deviceOptions: DeviceSelectionOptions
    @Flag(help: "No progress lines.") var quiet = false
    @Flag(help: "Print the result as JSON.") var json = false
    @OptionGroup var storage: StorageOptions
    @OptionGroup var dataOptions: DataOptions

    static let defaults = EvolutionDefaults.experiment

    func validate() throws {
        _ = try storage.experimentStorage()
        if let replicates { try checkCount(replicates, option: "--replicates", max: 10_000) }
        try checkCount(rounds, option: "--rounds", max: 100_000_000)
        try checkStudyName(name)
        if datasets?.values.isEmpty == true {
            throw ValidationError("--datasets is empty; expected comma-separated dataset names or files")
        }
        _ = try evolution.settings(method: .coevo)
        _ = try evolution.recipe(dataset: datasetNames[0])
    }

    /// --datasets, or the network's default dataset.
    var datasetNames: [String] {
        datasets?.values ?? [evolution.isCNN ? "mnist-5k" : "sklearn/digits"]
    }

    func run() async throws {
        let base = try evolution.settings(method: .coevo)
        let recipe = try evolution.recipe(dataset: datasetNames[0])
        let folder = StudyCatalog(root: storage.runsRoot).folder(of: name)
        let compute = try deviceOptions.select()
        // Every dataset must be there before the experiment folder is created.
        for dataset in datasetNames { try dataOptions.checkAvailable(dataset) }
        let backend = try EvolveCommand.backend(for: recipe, device: compute)  // one trainer (and program cache) for every cell
        var experiment = EvolutionExperiment(
            datasets: datasetNames, methods: methods.values,
            replicates: replicates ?? evolution.defaults.replicates, base: base, recipe: recipe, folder: folder, permutationRounds: rounds) { _ in backend }
        experiment.dataRoot = dataOptions.root
        experiment.equalBudget = budget == .equal
        experiment.loadOptions = dataOptions.loadOptions
        experiment.storage = try storage.experimentStorage()
        let log: (String) -> Void = { line in if !quiet { EvolutionCLI.stderr(line) } }
        let started = Date()
        let newFolder = NewRunFolder(folder)
        let result = try await newFolder.run {
            try await experiment.run(cellStarted: { log("— \($0)") }, progress: { r in
                newFolder.markProgress()
                log("  gen \(r.generation + 1)\(r.replayed ? " (resumed)" : "")  best \(String(format: "%.4f", r.bestFitnessSoFar))  nets \(r.networks) trained \(r.trained)")
            }, status: { log("  \($0)") })
        }
        log("experiment done in \(EvolutionCLI.duration(Date().timeIntervalSince(started)))")
        if json { try JSONOutput.print(result) } else {
            print(result.markdown())
            print("tables: \(folder.path)/experiment-evolution.{md,csv,tex}; report: \(folder.path)/report.html")
        }
    }
}

/// How `experiment evolution` sizes the single-population methods' populations.
enum EvolutionBudget: String, ExpressibleByArgument, CaseIterable {
    case equal, paper
}
