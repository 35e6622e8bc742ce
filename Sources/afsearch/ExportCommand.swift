import ArgumentParser
import Foundation
import Kernels
import Search

/// `afsearch export EXPR --to pytorch|jax|latex`, or `afsearch export RUN` for a run folder's best functions.
struct ExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Print an expression, or a run's best functions, as a PyTorch nn.Module, a JAX function or LaTeX.",
        discussion: "A run (a folder, or a study name under the runs folder) exports its three best functions. The text goes to stdout, or with --output to a file."
    )

    @Argument(help: "An activation expression in x, or a run folder (runs/<study>) or study name whose best functions to export.")
    var source: String

    @Option(name: .long, help: "pytorch, jax or latex.")
    var to: ActivationExport.Format = .pytorch

    @Option(name: .long, help: "Class name (PyTorch) or, snake-cased, function name (JAX) of a single expression.")
    var name: String = "EvolvedActivation"

    @Option(name: .long, help: "Write the text to this file instead of stdout.")
    var output: String?

    @OptionGroup var storageOptions: StorageOptions
    var runs: String? { storageOptions.runs }

    /// Python's reserved words (3.12), not usable as class or function names.
    static let pythonKeywords: Set<String> = [
        "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue", "def", "del",
        "elif", "else", "except", "finally", "for", "from", "global", "if", "import", "in", "is", "lambda", "nonlocal",
        "not", "or", "pass", "raise", "return", "try", "while", "with", "yield",
    ]

    func validate() throws {
        guard name.first.map({ $0.isASCII && ($0.isLetter || $0 == "_") }) == true,
              name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
            throw ValidationError("--name '\(name)' is not a Python identifier; expected letters, digits and '_', not starting with a digit")
        }
        let snake = ActivationExport.render(.x, as: .jax, name: name)
        if Self.pythonKeywords.contains(name) || Self.pythonKeywords.contains(where: { snake.contains("def \($0)(") }) {
            throw ValidationError("--name '\(name)' is a Python keyword; choose another name")
        }
        if let output, output.trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("--output is empty; expected a file path") }
    }

    func run() async throws {
        if let output { try OutputPath.check(output, option: "--output") }
        let text: String
        if storageOptions.storage != nil {
            let store = try storageOptions.resolve().openForReading(source)
            guard let best = try Self.bestAlaCarteTrial(store) else {
                throw CommandFailure("study '\(source)' in \(try storageOptions.resolve()) has no finished à la carte trial")
            }
            text = try Self.export(best, study: source, format: to)
        } else if RunFolders.looksLikeRun(source, runs: runs) {
            let folder = try RunFolders.resolve(source, runs: runs)
            let study = folder.appendingPathComponent(StudyCatalog.databaseFileName)
            if FileManager.default.fileExists(atPath: folder.appendingPathComponent(EvolutionResult.fileName).path) {
                text = try RunExport.text(folder: folder, format: to)
            } else if FileManager.default.fileExists(atPath: study.path),
                      let best = try Self.bestAlaCarteTrial(SQLiteStudyStore(readingPath: study.path, studyName: folder.lastPathComponent)) {
                text = try Self.export(best, study: folder.lastPathComponent, format: to)
            } else {
                throw CommandFailure("'\(source)' (\(folder.path)) has no \(EvolutionResult.fileName) and no finished à la carte trial; "
                                     + "export takes the best functions of an `afsearch evolve` run or an `afsearch alacarte` study, or an expression")
            }
        } else {
            text = try Self.export(source, format: to, name: name)
        }
        if let output {
            do { try Data(text.utf8).write(to: URL(fileURLWithPath: output), options: .atomic) } catch {
                throw CommandFailure("--output " + ErrorText.describe(error))
            }
            print(output)
        } else {
            print(text, terminator: "")
        }
    }

    /// The best finished trial of an à la carte study, or nil when the store holds no such trial.
    static func bestAlaCarteTrial(_ store: any StudyStore) throws -> TrialRecord? {
        guard try store.kind() == "alacarte" else { return nil }
        return try store.bestTrials(limit: 1).first { !$0.expressions.isEmpty }
    }

    /// An à la carte study's best network: one function (or formula) per layer, named Layer<N>Activation.
    static func export(_ trial: TrialRecord, study: String, format: ActivationExport.Format) throws -> String {
        let comment = format == .latex ? "%" : "#"
        var out = "\(comment) study \(study), trial \(trial.number): objective "
            + (trial.objective.map { String(format: "%.4f", $0) } ?? "–")
            + (trial.testAccuracy.map { String(format: ", test accuracy %.4f", $0) } ?? "") + "\n"
        var imports: [String] = []
        var bodies = ""
        for (layer, text) in trial.expressions.enumerated() {
            let expr: ActivationExpr
            do { expr = try ActivationExpr.parse(text) } catch {
                throw CommandFailure("study \(study), trial \(trial.number), layer \(layer): stored expression '\(text)' does not parse: \(error)")
            }
            let choice = trial.parameters["layer\(layer)"].map { " (\($0))" } ?? ""
            let body = expr.isLayerwise && format != .latex
                ? "\(comment) \(expr) acts across a layer's units: use torch.nn.functional.\(expr.description.replacingOccurrences(of: "(x)", with: ""))(x, dim=1)\n"
                : ActivationExport.render(expr, as: format, name: "Layer\(layer)Activation")
            // Each rendered module repeats its imports; the file states them once, at the top.
            var kept: [Substring] = []
            for line in body.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix("import ") || line.hasPrefix("from ") {
                    if !imports.contains(String(line)) { imports.append(String(line)) }
                } else {
                    kept.append(line)
                }
            }
            let trimmed = kept.joined(separator: "\n").trimmingCharacters(in: .newlines)
            bodies += "\n\n\(comment) layer \(layer)\(choice)\n" + trimmed + "\n"
        }
        if !imports.isEmpty { out += imports.joined(separator: "\n") + "\n" }
        return out + bodies
    }

    /// The exported text of one expression.
    static func export(_ text: String, format: ActivationExport.Format, name: String) throws -> String {
        let expr = try parseExpressionArgument(text)
        let out = ActivationExport.render(expr, as: format, name: name)
        return out.hasSuffix("\n") ? out : out + "\n"
    }
}

extension ActivationExport.Format: ExpressibleByArgument {}
