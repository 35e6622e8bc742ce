import Foundation
import Kernels

/// Where a generation's wall time went.
public struct GenerationTiming: Codable, Sendable, Hashable {
    /// Proposing individuals, assembling the networks and screening their expressions.
    public var proposeSeconds: Double = 0
    /// Generating and building the population's program (part of the trainer's time when it reports it).
    public var compileSeconds: Double = 0
    /// Training and validating the population, compile time excluded.
    public var trainSeconds: Double = 0
    /// Selection, records, and the study-store transaction.
    public var bookkeepingSeconds: Double = 0

    public init() {}

    public var totalSeconds: Double { proposeSeconds + compileSeconds + trainSeconds + bookkeepingSeconds }
}

/// One population's state after a generation.
public struct PopulationRecord: Codable, Sendable, Hashable {
    public var name: String
    /// The best fitness found so far by this population (its parent, elite or best ever).
    public var bestFitness: Double
    /// Mean fitness of this generation's individuals.
    public var meanFitness: Double
    /// The best individual's expressions, printed in canonical form (one, or three for a triple).
    public var bestExpressions: [String]
}

/// What one generation did. The run keeps one per generation; a report plots them.
public struct GenerationRecord: Codable, Sendable, Hashable {
    public var generation: Int
    public var populations: [PopulationRecord]
    /// Networks scored this generation (trained, reused or rejected).
    public var networks: Int
    /// Distinct networks actually trained.
    public var trained: Int
    /// Networks answered from earlier scores instead of training (same function list).
    public var duplicatesSkipped: Int
    /// Networks whose expressions failed screening (fitness 0, never trained).
    public var rejected: Int
    /// Best network fitness seen so far in the run.
    public var bestFitnessSoFar: Double
    public var timing: GenerationTiming
    /// Replayed from the study store on resume rather than run now.
    public var replayed: Bool
    /// The island's migration barrier after this generation, if it passed one.
    public var migration: MigrationRecord? = nil
}

/// What an island's barrier did: individuals published, taken in (from other islands), and admitted by the
/// populations' immigration rules.
public struct MigrationRecord: Codable, Sendable, Hashable {
    public var published: Int
    public var received: Int
    public var admitted: Int
    /// The islands the received individuals came from.
    public var sources: [String]
}

/// A network: one expression per slot (input, hidden, output), with its fitness and the trial that scored it.
public struct ScoredNetwork: Sendable, Hashable {
    public var expressions: [ActivationExpr]
    public var fitness: Double
    public var trialNumber: Int?
}

/// A network in files: printed expressions for people and pre-order tokens for exact reloading.
public struct NetworkFunctions: Codable, Sendable, Hashable {
    public var formulas: [String]
    public var trees: [TreeGenome]

    public init(_ expressions: [ActivationExpr]) {
        formulas = expressions.map { $0.canonical.description }
        trees = expressions.map(TreeGenome.init)
    }

    public var expressions: [ActivationExpr] { trees.map(\.expression) }
}

/// The outcome of `EvolutionRun.run`: what `afsearch evolve` prints and writes as `evolution.json`,
/// and what `afsearch report` and `afsearch export` read.
public struct EvolutionResult: Codable, Sendable {
    public var settings: EvolutionSettings
    public var history: [GenerationRecord]
    /// The best network evaluated during the search (by validation fitness).
    public var best: NetworkFunctions
    public var bestFitness: Double
    public var bestTrialNumber: Int?
    /// Per population, its best individual at the end.
    public var populationBests: [PopulationRecord]
    public var networksEvaluated: Int
    public var networksTrained: Int
    public var duplicatesSkipped: Int
    public var rejected: Int
    /// Test accuracy of the best network retrained on Train1 ∪ Train2, at the last epoch; nil if not run.
    public var finalTest: TestScore?
    /// The standard network's test accuracy under the same final protocol, for comparison.
    public var standardTest: TestScore?
    public var dataset: String?
    /// The network the functions were evolved for (study 2's FCN shape).
    public var network: Study2FCN?
    public var device: String?
    /// The CNN the functions were evolved for (`--arch`: `cnn` or a spec string); nil for the FCN.
    public var architecture: String? = nil

    public static let fileName = "evolution.json"

    public func write(to folder: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try encoder.encode(self).write(to: folder.appendingPathComponent(Self.fileName), options: .atomic)
    }

    public static func read(from folder: URL) throws -> EvolutionResult {
        let url = folder.appendingPathComponent(fileName)
        guard let data = FileManager.default.contents(atPath: url.path) else {
            throw EvolutionError.invalidSetting("no \(fileName) in '\(folder.path)': expected a run folder written by 'afsearch evolve'")
        }
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        do { return try decoder.decode(EvolutionResult.self, from: data) }
        catch { throw EvolutionError.corruptCheckpoint("\(url.path): \(JSONFileProblem.describe(error)); expected the \(fileName) that afsearch evolve writes") }
    }
}

/// A JSON file's decoding error in words: which field is missing or wrong, or that the text is not JSON
/// (not Foundation's "Debug description: …" or its bridged NSError code).
public enum JSONFileProblem {
    public static func describe(_ error: Error) -> String {
        guard let error = error as? DecodingError else { return String(describing: error) }
        func path(_ context: DecodingError.Context, _ last: CodingKey? = nil) -> String {
            let keys = context.codingPath + (last.map { [$0] } ?? [])
            let text = keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return text.isEmpty ? "the top level" : "'\(text)'"
        }
        switch error {
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not valid JSON" : "the value of \(path(context)) is malformed"
        case .keyNotFound(let key, let context): return "the field \(path(context, key)) is missing"
        case .typeMismatch(let type, let context): return "the field \(path(context)) is not a \(type)"
        case .valueNotFound(let type, let context): return "the field \(path(context)) is null; expected a \(type)"
        @unknown default: return "not in the expected format"
        }
    }
}
