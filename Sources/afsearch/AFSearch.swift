import ArgumentParser

/// The command-line tool. One file per subcommand (`*Command.swift`); this file only lists them.
@main
struct AFSearch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "afsearch",
        abstract: "Search and evolve activation functions, training whole populations on one OpenCL device.",
        version: AFSearchVersion.string,
        subcommands: [
            DevicesCommand.self,
            SelftestCommand.self,
            CompileCommand.self,
            EvalCommand.self,
            MenuCommand.self,
            ExportCommand.self,
            DatasetsCommand.self,
            TrainCommand.self,
            BenchCommand.self,
            AlacarteCommand.self,
            EvolveCommand.self,
            ExperimentCommand.self,
            StudiesCommand.self,
            ShowCommand.self,
            ReportCommand.self,
        ]
    )
}

enum AFSearchVersion {
    static let string = "0.1.0"
}

/// `afsearch experiment alacarte|evolution`.
struct ExperimentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "experiment",
        abstract: "Run a replicated experiment: every method on every dataset, with significance tests.",
        subcommands: [ExperimentAlacarteCommand.self, ExperimentEvolutionCommand.self]
    )
}
