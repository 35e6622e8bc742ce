import ArgumentParser
import Datasets
import Foundation
import GPUEngine
import Kernels
import Search

/// `afsearch evolve`: evolve activation functions for study 2's network (CGP or tree GP; (1+λ) ES or GA;
/// Standard, Random, Evo-Single, Evo-Triple or Coevo), every generation trained as one population.
struct EvolveCommand: AsyncParsableCommand, EvolutionDefaultsRow {
    static let configuration = CommandConfiguration(
        commandName: "evolve",
        abstract: "Evolve activation functions with CGP or tree GP, or coevolve three populations.",
        discussion: """
        The defaults are small so that `make run` finishes in a few minutes on a laptop CPU: 4,000 Train1 and \
        1,000 Train2 rows of Fashion-MNIST, 2,000 test rows, 10 generations of coevolution with λ = 4 per \
        population, fitness after 3 epochs, a final retraining of 10 epochs. Study 2's sizes: \
        --paper-sizes (all of Train1/Train2 = 80/20 % of the official training set, the full test set, \
        30 final epochs) with e.g. --generations 50.

        --arch cnn evolves for study 2's CNN (conv3x3:32 + AF1, pool2, conv3x3:64 + AF2, pool2, flatten, dropout \
        0.5, fc:1000 + AF3, fc:10) on the CNN population trainer, with AF1/AF2/AF3 as the input/hidden/output \
        stage. A CNN spec string with three activation slots works too (e.g. conv3x3:8,pool2,conv3x3:16,pool2,\
        flatten,fc:64,fc:10); it needs an image dataset whose size its layers fit. Each CNN image costs far more \
        than an FCN row (study 2's CNN: about 24 MFLOP forward), so the CNN's defaults are smaller: 400 Train1, \
        200 Train2 and 500 test rows, 5 generations, 5 final epochs (5.5 minutes measured on a busy 2-core CPU through PoCL).

        A run lives in runs/<study>/ (study.sqlite, evolution.json, report.html). Running the same command \
        again, or with --resume after a kill, replays the stored generations without retraining them and \
        continues; a larger --generations extends a finished run (not with --sequential, whose stages depend \
        on the total).

        Islands: `--island N` (0, 1, …) makes this process island N of the study; start one per device or \
        machine with the same flags and one --storage (a postgresql:// URL across machines; the default SQLite \
        file works for processes of one machine), or let `afsearch workers --devices all -- evolve …` number \
        them. Each island evolves its own populations (island 0 from --seed, island N from a stream derived \
        from it) and after every --migrate-every generations publishes each population's --migrants fittest \
        and takes in the other islands' newest: a (1+λ) ES parent gives way to a strictly fitter migrant, a \
        GA's worst individuals to fitter ones. A killed island resumes like any run and replays the migrants it \
        took. Its evolution.json and report go to runs/<study>/island-N/; `afsearch report <study>` and \
        `afsearch show <study>` list the islands and the migrations.
        """)

    @Option(help: "Dataset name (see `afsearch datasets`) or file path. Fetch the offline sets with `make data`.")
    var dataset = "fashion-mnist"
    @Option(help: "Search method: standard (no search), random, single (one function for every stage), triple (one per stage) or coevo (three coevolving populations).")
    var method: EvolutionMethod = .coevo
    @OptionGroup var evolution: EvolutionOptions<EvolveCommand>
    @Option(help: "Coevolution: extra networks per individual with random partners from the other populations.")
    var partners = 0
    @Flag(help: "Coevolution: study 2's sequential schedule (input, then hidden, then output population).")
    var sequential = false
    @Option(help: "Comma-separated primitives (default: study 2's for cgp, the richer default set for tree).")
    var primitives: String?
    @Option(help: "CGP grid rows.") var rows = 5
    @Option(help: "CGP grid columns.") var columns = 5
    @Option(name: .customLong("levels-back"), help: "CGP levels-back.") var levelsBack = 5
    @Flag(help: "CGP: Goldman–Punch single-active mutation (inactive genes drift too).")
    var mutateInactive = false
    @Option(help: "Mini-batch size as a fraction of the training rows (study 2: 0.1).") var batchFraction = 0.1
    @Option(help: "Hidden width of the FCN (default 32; a CNN takes its widths from --arch).") var width: Int?
    @Option(help: "Hidden-stage layers of the FCN (default 5; a CNN takes its layers from --arch).") var hiddenLayers: Int?
    @Option(help: "Data split seed.") var dataSeed: UInt64 = 0
    @Option(help: "Study name (folder under runs/, or $AFSEARCH_RUNS). Default derived from the settings.")
    var study: String?
    @Flag(help: "Continue the named study (it must exist).") var resume = false
    @Option(help: "Island evolution: evolve island N (0, 1, …) of the study, exchanging individuals with its other islands through the storage.")
    var island: Int?
    @Option(help: ArgumentHelp("Islands: pass a migration barrier after every K-th generation (default 5; needs --island).", valueName: "K"))
    var migrateEvery: Int?
    @Option(help: ArgumentHelp("Islands: individuals each population publishes per barrier, its fittest (default 1; needs --island).", valueName: "M"))
    var migrants: Int?
    @OptionGroup var deviceOptions: DeviceSelectionOptions
    @Option(name: [.customLong("activation-code"), .customLong("activations")],
            help: "How fitness trainings run the activations: interpreted (one program built once, no build per generation) or compiled (a program per generation, fused into the GEMMs); --activations is the old spelling.")
    var activations: ActivationExecution = .interpreted
    @Flag(help: "No progress lines.") var quiet = false
    @Flag(help: "Print the result as JSON on stdout.") var json = false
    @OptionGroup var storageOptions: StorageOptions
    @OptionGroup var dataOptions: DataOptions

    static let defaults = EvolutionDefaults.evolve

    func validate() throws {
        try checkCount(partners, option: "--partners", min: 0, max: 1_000)
        if let study { try checkStudyName(study) }
        if dataset.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--dataset is empty; expected a registry name (see `afsearch datasets`) or a data file")
        }
        _ = try settings()
        _ = try recipe()
    }

    func settings() throws -> EvolutionSettings {
        try evolution.settings(method: method) { s in
            s.randomPartners = partners
            s.schedule = sequential ? .sequential : .simultaneous
            s.cgpRows = rows
            s.cgpColumns = columns
            s.cgpLevelsBack = levelsBack
            s.mutateInactive = mutateInactive
            s.primitives = primitives.map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } } ?? []
            if let island {
                try checkCount(island, option: "--island", min: 0, max: 100_000)
                if let migrateEvery { try checkCount(migrateEvery, option: "--migrate-every", max: 1_000_000) }
                if let migrants { try checkCount(migrants, option: "--migrants", max: 100_000) }
                s.islands = IslandSettings(migrateEvery: migrateEvery ?? 5, migrants: migrants ?? 1)
            } else if migrateEvery != nil || migrants != nil {
                throw ValidationError("--migrate-every and --migrants set how islands migrate; name this process's island with --island N")
            }
        }
    }

    func recipe() throws -> Study2Recipe {
        if evolution.isCNN, width != nil || hiddenLayers != nil {
            throw ValidationError("--width and --hidden-layers shape the FCN; --arch \(evolution.arch) is a CNN, whose layers the spec gives")
        }
        let fcn = Study2FCN(width: width ?? Study2FCN.paper.width, hiddenLayers: hiddenLayers ?? Study2FCN.paper.hiddenLayers)
        return try evolution.recipe(dataset: dataset, network: fcn, batchFraction: batchFraction, dataSeed: dataSeed)
    }

    /// The trainer backend for a recipe: the MLP population trainer for the FCN, the CNN one for a CNN.
    static func backend(for recipe: Study2Recipe, device: ComputeDevice,
                        activations: ActivationExecution = .interpreted) throws -> Study2TrainingBackend {
        if let cnn = try recipe.cnnArchitecture() {
            let trainer = PopulationCNNTrainer(device: device)
            trainer.activationExecution = activations
            return Study2TrainingBackend(cnnTrainer: trainer, architecture: cnn)
        }
        let trainer = PopulationTrainer(device: device)
        // Every generation brings new expressions: the interpreter trains them without building a program.
        trainer.activationExecution = activations
        return Study2TrainingBackend(trainer: trainer, network: recipe.network)
    }

    func run() async throws {
        let settings = try settings()
        let recipe = try recipe()
        let name = study ?? EvolutionCLI.defaultStudyName(settings: settings, recipe: recipe)
        let storage = try storageOptions.resolve()
        // Trials go to the storage; evolution.json and the report to the study's local folder.
        let folder = try storageOptions.folder(of: name)
        if try resume && !storage.exists(name) {
            throw CommandFailure("--resume: no study '\(name)' under \(storage) (known: \(try storage.names().joined(separator: ", ")))")
        }
        // Device, data and recipe are checked before any study folder exists: a failed start leaves nothing behind.
        let compute = try deviceOptions.select()
        let data = try recipe.load(dataRoot: dataOptions.root, options: dataOptions.loadOptions)
        try EvolutionCLI.checkRecipe(recipe, folder: folder, write: false)
        let backend = try Self.backend(for: recipe, device: compute, activations: activations)
        let newFolder = NewRunFolder(folder)
        let result = try await newFolder.run { () async throws -> EvolutionResult in
            let store = try storage.open(name, create: true)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try EvolutionCLI.checkRecipe(recipe, folder: folder, write: true)
            var job = EvolutionJob(settings: settings, recipe: recipe, backend: backend, store: store,
                                   folder: island.map { EvolutionCLI.islandFolder(folder, island: $0) } ?? folder)
            job.preloaded = data
            job.island = island
            let log: (String) -> Void = { line in if !quiet { EvolutionCLI.stderr(line) } }
            log("study \(name)\(island.map { " island \($0)" } ?? "") — \(settings.method.displayName), \(settings.genome.rawValue) \(settings.algorithm.rawValue), device \(compute.info.name)")
            let meter = GenerationMeter(total: settings.method == .standard ? 1 : settings.generations)
            return try await job.run(progress: { record in
                newFolder.markProgress()
                log(meter.line(record))
            }, status: log)
        }
        if json {
            try JSONOutput.print(result)
        } else {
            // The trials' place: the study folder's file by default (one folder above an island's), else --storage.
            let trials: String
            if case .folder = storage { trials = folder.appendingPathComponent(StudyCatalog.databaseFileName).path } else { trials = storage.description }
            print(EvolutionCLI.summary(result, folder: island.map { EvolutionCLI.islandFolder(folder, island: $0) } ?? folder, trials: trials))
        }
    }
}

/// Formats the per-generation progress line and its ETA (from the generations run now, not replayed).
final class GenerationMeter: @unchecked Sendable {
    let total: Int
    private var fresh: [Double] = []
    private var last = Date()

    init(total: Int) { self.total = total }

    func line(_ r: GenerationRecord) -> String {
        let now = Date()
        if !r.replayed { fresh.append(now.timeIntervalSince(last)) }
        last = now
        let remaining = total - r.generation - 1
        let eta = fresh.isEmpty ? "–" : EvolutionCLI.duration(fresh.reduce(0, +) / Double(fresh.count) * Double(remaining))
        let populations = r.populations.map { "\($0.name) \(String(format: "%.4f", $0.bestFitness))/\(String(format: "%.4f", $0.meanFitness))" }
            .joined(separator: "  ")
        return "gen \(r.generation + 1)/\(total)\(r.replayed ? " (resumed)" : "")  best \(String(format: "%.4f", r.bestFitnessSoFar))"
            + (populations.isEmpty ? "" : "  [best/mean \(populations)]")
            + "  nets \(r.networks) trained \(r.trained) dup \(r.duplicatesSkipped) rejected \(r.rejected)"
            + "  compile \(String(format: "%.2f", r.timing.compileSeconds))s train \(String(format: "%.2f", r.timing.trainSeconds))s  ETA \(eta)"
            + (r.migration.map { m in
                "  migrants out \(m.published) in \(m.received)\(m.sources.isEmpty ? "" : " from island \(m.sources.joined(separator: ","))") admitted \(m.admitted)"
            } ?? "")
    }
}

/// Shared printing and naming for `evolve` and `experiment evolution`.
enum EvolutionCLI {
    static func stderr(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// Where island N of a study writes its evolution.json and report (the study's folder holds the shared recipe).
    static func islandFolder(_ folder: URL, island: Int) -> URL { folder.appendingPathComponent("island-\(island)") }

    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "–" }
        if seconds < 90 { return String(format: "%.0fs", seconds) }
        if seconds < 5400 { return String(format: "%.1fmin", seconds / 60) }
        return String(format: "%.1fh", seconds / 3600)
    }

    static func defaultStudyName(settings: EvolutionSettings, recipe: Study2Recipe) -> String {
        let data = recipe.dataset.map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "-" }
        // A CNN run gets its own default study (its recipe differs); the FCN's name is unchanged.
        let network = recipe.architecture.map { $0.lowercased() == "cnn" ? "-cnn" : "-cnn\(SeededGenerator.stableHash($0) % 100_000)" } ?? ""
        return "evolve-\(String(data))\(network)-\(settings.method.rawValue)-\(settings.genome.rawValue)-s\(settings.seed)"
    }

    /// A study's data recipe is kept beside its database; a rerun with another recipe is refused, since
    /// its stored fitnesses were measured on other data.
    static func checkRecipe(_ recipe: Study2Recipe, folder: URL, write: Bool) throws {
        let url = folder.appendingPathComponent("recipe.json")
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(recipe)
        if let stored = FileManager.default.contents(atPath: url.path) {
            let old = try? JSONDecoder().decode(Study2Recipe.self, from: stored)
            guard old == recipe else {
                throw CommandFailure("study folder \(folder.path) was run with another data recipe: "
                                     + recipeDifferences(stored: stored, requested: data)
                                     + "; use another --study name or the same data options")
            }
        } else if write {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try data.write(to: url, options: .atomic)
        }
    }

    /// The fields that differ between two recipes' JSON, as `field stored → requested`.
    static func recipeDifferences(stored: Data, requested: Data) -> String {
        guard let old = (try? JSONSerialization.jsonObject(with: stored)) as? [String: Any],
              let new = (try? JSONSerialization.jsonObject(with: requested)) as? [String: Any] else {
            return "its recipe.json cannot be read"
        }
        func text(_ value: Any?) -> String {
            guard let value, !(value is NSNull) else { return "none" }
            if let data = try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .fragmentsAllowed]) {
                return String(decoding: data, as: UTF8.self)
            }
            return "\(value)"
        }
        let keys = Set(old.keys).union(new.keys).sorted()
        let differing = keys.filter { text(old[$0]) != text(new[$0]) }
        guard !differing.isEmpty else { return "its recipe.json is from another version" }
        return differing.map { "\($0) \(text(old[$0])) (stored) vs \(text(new[$0])) (now)" }.joined(separator: ", ")
    }

    static func summary(_ r: EvolutionResult, folder: URL, trials: String) -> String {
        var lines = ["\(r.settings.method.displayName) on \(r.dataset ?? "?"): \(r.networksEvaluated) networks scored, "
                     + "\(r.networksTrained) trained, \(r.duplicatesSkipped) duplicates skipped, \(r.rejected) rejected"]
        lines.append("best functions (validation fitness \(String(format: "%.4f", r.bestFitness))):")
        for (slot, formula) in r.best.formulas.enumerated() {
            lines.append("  \(EvolutionSettings.slotNames[slot].padding(toLength: 7, withPad: " ", startingAt: 0)) \(formula)")
        }
        if let test = r.finalTest {
            lines.append(String(format: "test accuracy after retraining on Train1 ∪ Train2: %.4f (%@%@)", test.testAccuracy,
                                test.epochs == 1 ? "its one epoch" : "last of \(test.epochs) epochs", test.diverged ? ", diverged" : ""))
        }
        if let standard = r.standardTest, r.settings.method != .standard {
            lines.append(String(format: "standard network (%@ everywhere), same protocol: %.4f", r.settings.standardActivation, standard.testAccuracy))
        }
        let fresh = r.history.filter { !$0.replayed }.map(\.timing)
        if !fresh.isEmpty {
            let sum = { (part: KeyPath<GenerationTiming, Double>) in fresh.map { $0[keyPath: part] }.reduce(0, +) }
            let total = sum(\.totalSeconds)
            lines.append(String(format: "time over %d generation(s): %.2f s — propose %.2f, compile %.2f (%.1f%%), train %.2f, bookkeeping %.2f",
                                fresh.count, total, sum(\.proposeSeconds), sum(\.compileSeconds),
                                total > 0 ? 100 * sum(\.compileSeconds) / total : 0, sum(\.trainSeconds), sum(\.bookkeepingSeconds)))
        } else if !r.history.isEmpty {
            lines.append("all \(r.history.count) generation(s) replayed from the stored study, none trained again (a larger "
                         + "--generations continues it; another --study, or removing its folder, starts over)")
        }
        lines.append("run folder: \(folder.path) (report.html, evolution.json); trials: \(trials)")
        return lines.joined(separator: "\n")
    }
}

extension ActivationExecution: ExpressibleByArgument {}
extension EvolutionMethod: ExpressibleByArgument {}
extension GenomeKind: ExpressibleByArgument {}
extension AlgorithmKind: ExpressibleByArgument {}
