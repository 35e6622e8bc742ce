import ArgumentParser
import Foundation

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
            WorkersCommand.self,
            ExperimentCommand.self,
            StudiesCommand.self,
            ShowCommand.self,
            ReportCommand.self,
        ]
    )

    /// Parses (reading hyphenated values as values, see `HyphenatedValues`), runs, and fails the one way the
    /// README's "Exit codes" describes: 64 with the command's usage for a wrong command line, 1 otherwise.
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        var command: ParsableCommand
        do {
            command = try parse(arguments)
        } catch {
            exit(withError: error)
        }
        do {
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as ValidationError {
            fail(error.message, usageOf: type(of: command))
        } catch let error as ExpressionArgumentError {
            fail(error.description, usageOf: type(of: command))
        } catch let error as ExitCode {
            exit(withError: error)
        } catch let error as CleanExit {
            exit(withError: error)
        } catch where String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") {
            // --help, --version and the `help` subcommand finish by throwing the library's own errors.
            exit(withError: error)
        } catch {
            FileHandle.standardError.write(Data("Error: \(ErrorText.describe(error))\n".utf8))
            Foundation.exit(EXIT_FAILURE)
        }
    }

    private static func parse(_ arguments: [String]) throws -> ParsableCommand {
        do {
            return try parseAsRoot(arguments)
        } catch let firstError {
            var bestError: Error?
            for reading in HyphenatedValues.readings(arguments) {
                do {
                    return try parseAsRoot(reading)
                } catch {
                    // The reading that joins values to options explains the problem best (`--lr -1`: must be positive).
                    if bestError == nil { bestError = error }
                }
            }
            throw bestError ?? firstError
        }
    }

    /// A wrong command line found while running: the message, the command's own usage, exit 64.
    private static func fail(_ message: String, usageOf command: ParsableCommand.Type) -> Never {
        let name = command == AFSearch.self ? "afsearch" : "afsearch " + commandPath(command).joined(separator: " ")
        let usage = usageString(for: command)
        FileHandle.standardError.write(Data("""
            Error: \(message)
            Usage: \(usage)
              See '\(name) --help' for more information.

            """.utf8))
        Foundation.exit(ExitCode.validationFailure.rawValue)
    }

    /// The subcommand names from the root to `command` (`experiment alacarte`).
    private static func commandPath(_ command: ParsableCommand.Type) -> [String] {
        func search(_ node: ParsableCommand.Type, _ path: [String]) -> [String]? {
            if node == command { return path }
            for sub in node.configuration.subcommands {
                if let found = search(sub, path + [sub.configuration.commandName ?? ""]) { return found }
            }
            return nil
        }
        return search(AFSearch.self, []) ?? [command.configuration.commandName ?? ""]
    }
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
