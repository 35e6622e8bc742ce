import Datasets
import Foundation
import Kernels
import Testing
@testable import Search

/// A trainer stand-in: a candidate's history is a pure function of its expressions, and every population
/// it is asked to train is recorded, so tests can see exactly what was trained.
final class RecordingBackend: PopulationTrainingBackend, @unchecked Sendable {
    private let lock = NSLock()
    private var _populations: [[SlotActivations]] = []
    var populations: [[SlotActivations]] { lock.withLock { _populations } }
    let deviceDescription = "recording backend"

    func train(population: [SlotActivations], setup: TrainingSetup, splits: SearchSplits, evaluateTest: Bool)
        async throws -> [CandidateTrainingResult]
    {
        lock.withLock { _populations.append(population) }
        return population.map { candidate in
            let text = candidate.map(ExpressionText.render).joined()
            let diverged = text.contains("exp(exp")
            // Validation peaks at epoch 1, training keeps rising: `best` and `final` pick different epochs.
            let base = Double(text.count % 7) / 10
            return CandidateTrainingResult(
                trainAccuracy: [base, base + 0.1, base + 0.2], validationAccuracy: [base, base + 0.15, base + 0.05],
                testAccuracy: evaluateTest ? [0.11, 0.22, 0.33] : nil, diverged: diverged)
        }
    }
}

func tinySplits() -> SearchSplits {
    let data = LabeledData(features: [0, 1, 1, 0], labels: [0, 1], featureCount: 2, classCount: 2)
    return SearchSplits(train: data, validation: data, test: data)
}

@Suite struct EvaluationTests {
    /// Evolution's dedup uses the expression language's identity, whose structure guard keeps RReLU (noise in
    /// training) apart from the leaky ReLU with its mean slope, which has the same values in evaluation mode.
    @Test func evolutionDedupKeepsNoisyFunctionsApartFromTheirMean() throws {
        let rrelu = try ActivationExpr.parse("rrelu(x)")
        let leaky = try ActivationExpr.parse("max(x, 11/48*x)")
        #expect(rrelu.fingerprint == leaky.fingerprint, "the same values in evaluation mode")
        let job = EvolutionJob(settings: EvolutionSettings(), recipe: Study2Recipe(dataset: "mnist-5k"),
                               backend: .reference(network: .paper), store: nil, folder: nil)
        #expect(job.identity.functionKey(of: [rrelu, rrelu, rrelu]) != job.identity.functionKey(of: [leaky, leaky, leaky]))
        let plain = try ActivationExpr.parse("max(x, 0)"), relu = try ActivationExpr.parse("relu(x)")
        #expect(job.identity.functionKey(of: [plain, plain, plain]) == job.identity.functionKey(of: [relu, relu, relu]))
    }

    let relu = ActivationExpr.unary(.relu, .x)
    let tanh = ActivationExpr.unary(.tanh, .x)
    let blowUp = ActivationExpr.unary(.exp, .unary(.exp, .x))

    @Test func trainsEachDistinctCandidateOnceAsOnePopulation() async throws {
        let backend = RecordingBackend()
        let evaluator = PopulationEvaluator(
            backend: backend, setup: TrainingSetup(hiddenWidths: [4], slotCount: 2), splits: tinySplits())
        let batch = try await evaluator.evaluate([[relu, tanh], [tanh, relu], [relu, tanh], [relu, relu]])
        #expect(backend.populations == [[[relu, tanh], [tanh, relu], [relu, relu]]])
        #expect(batch.trainedCount == 3)
        #expect(batch.duplicatesSkipped == 1)
        #expect(batch.scores.map(\.source) == [.trained, .trained, .batchDuplicate, .trained])
        #expect(batch.scores[2].objective == batch.scores[0].objective)

        let second = try await evaluator.evaluate([[relu, relu], [tanh, tanh]])
        #expect(backend.populations.last == [[tanh, tanh]])
        #expect(second.scores.map(\.source) == [.cache, .trained])
        #expect(await evaluator.trainedTotal == 4)
    }

    @Test func finishedTrialsInTheStoreAreNotRetrained() async throws {
        let store = try SQLiteStudyStore(inMemoryNamed: "t")
        let identity = CandidateIdentity.structural
        try store.insert([TrialRecord(
            number: 0, state: .complete, canonicalKey: identity.functionKey(of: [relu, tanh]), objective: 0.77,
            metrics: ["validation_accuracy": 0.77], epochs: 12)])
        let backend = RecordingBackend()
        let evaluator = PopulationEvaluator(
            backend: backend, setup: TrainingSetup(hiddenWidths: [4], slotCount: 2), splits: tinySplits(),
            store: store)
        let batch = try await evaluator.evaluate([[relu, tanh], [tanh, tanh]])
        #expect(backend.populations == [[[tanh, tanh]]])
        #expect(batch.scores[0].source == .store)
        #expect(batch.scores[0].objective == 0.77)
        #expect(batch.scores[0].storedTrialNumber == 0)
    }

    @Test func divergedScoresZeroAndEpochSelectionFollowsTheObjectiveSplit() async throws {
        let backend = RecordingBackend()
        var setup = TrainingSetup(hiddenWidths: [4], slotCount: 1, selection: .best)
        let best = PopulationEvaluator(backend: backend, setup: setup, splits: tinySplits())
        let scores = try await best.evaluate([[relu], [blowUp]]).scores
        let base = Double(ExpressionText.render(relu).count % 7) / 10
        #expect(abs(scores[0].objective - (base + 0.15)) < 1e-12)  // best validation epoch is epoch 1
        #expect(scores[1].diverged && scores[1].objective == 0)
        // The test score is read at the epoch validation selected, not the test split's best epoch.
        #expect(try await best.scoreOnTest([relu]).testAccuracy == 0.22)

        setup.selection = .final
        setup.objective = .train
        let final = PopulationEvaluator(backend: backend, setup: setup, splits: tinySplits())
        #expect(abs(try await final.evaluate([[relu]]).scores[0].objective - (base + 0.2)) < 1e-12)
        #expect(try await final.scoreOnTest([relu]).testAccuracy == 0.33)
    }

    @Test func wrongSlotCountIsAClearError() async throws {
        let evaluator = PopulationEvaluator(
            backend: RecordingBackend(), setup: TrainingSetup(hiddenWidths: [4], slotCount: 2), splits: tinySplits())
        await #expect(throws: EvaluationError.self) { _ = try await evaluator.evaluate([[relu]]) }
    }

    @Test func expressionLanguageIdentityMergesEqualFunctionsButNotLearnableOnes() async throws {
        let identity = CandidateIdentity.expressionLanguage
        let maxForm = ActivationExpr.binary(.max, .x, .constant(0))
        #expect(identity.functionKey(of: [relu, tanh]) == identity.functionKey(of: [maxForm, tanh]))
        #expect(identity.functionKey(of: [relu, tanh]) != identity.functionKey(of: [tanh, relu]))
        // PReLU starts as the fixed function with slope 0.25 but learns its slope: not a duplicate.
        let prelu = ActivationExpr.binary(.add, .binary(.max, .constant(0), .x),
                                          .binary(.mul, .parameter(name: "a", initial: 0.25), .binary(.min, .constant(0), .x)))
        let fixed = ActivationExpr.binary(.add, .binary(.max, .constant(0), .x),
                                          .binary(.mul, .constant(0.25), .binary(.min, .constant(0), .x)))
        #expect(identity.functionKey(of: [prelu]) != identity.functionKey(of: [fixed]))

        let backend = RecordingBackend()
        let evaluator = PopulationEvaluator(backend: backend, setup: TrainingSetup(hiddenWidths: [4], slotCount: 2),
                                            splits: tinySplits(), identity: identity)
        let batch = try await evaluator.evaluate([[relu, tanh], [maxForm, tanh]])
        #expect(backend.populations == [[[relu, tanh]]])
        #expect(batch.scores[1].source == .batchDuplicate && batch.duplicatesSkipped == 1)
    }
}
