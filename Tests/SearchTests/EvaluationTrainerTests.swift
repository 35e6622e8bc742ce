import Datasets
import GPUEngine
import Kernels
import Testing
@testable import Search

/// Two Gaussian-ish blobs in 3 features, labels by the sign of a linear score: learnable in a few epochs.
func blobSplits(rows: Int = 60, seed: UInt64 = 1) -> SearchSplits {
    func make(_ count: Int, _ stream: UInt64) -> LabeledData {
        var generator = SeededGenerator(seed: SeededGenerator.derive(seed, stream))
        var features: [Float] = [], labels: [Int32] = []
        for i in 0..<count {
            let label = Int32(i % 2)
            let center: Float = label == 0 ? -1 : 1
            for _ in 0..<3 { features.append(center + Float.random(in: -0.8...0.8, using: &generator)) }
            labels.append(label)
        }
        return LabeledData(features: features, labels: labels, featureCount: 3, classCount: 2)
    }
    return SearchSplits(train: make(rows, 1), validation: make(rows / 2, 2), test: make(rows / 2, 3))
}

@Suite struct EvaluationTrainerTests {
    @Test func referenceTrainerScoresArePositionIndependentAndRescoredOnTestAlike() async throws {
        let relu = ActivationExpr.unary(.relu, .x), tanh = ActivationExpr.unary(.tanh, .x)
        let setup = TrainingSetup(hiddenWidths: [6], slotCount: 2, epochs: 15, learningRate: 0.05, seed: 7)
        let evaluator = PopulationEvaluator(backend: TrainerBackend.reference(), setup: setup, splits: blobSplits())
        let first = try await evaluator.evaluate([[relu, .x], [tanh, .x]])
        let swapped = PopulationEvaluator(backend: TrainerBackend.reference(), setup: setup, splits: blobSplits())
        let second = try await swapped.evaluate([[tanh, .x], [relu, .x]])
        #expect(first.scores[0].objective == second.scores[1].objective)
        #expect(first.scores[1].objective == second.scores[0].objective)
        // A learnable problem: both beat chance on validation after 15 full-batch Adam steps.
        #expect(first.scores.allSatisfy { $0.objective > 0.7 && !$0.diverged && $0.epochs >= 1 })
        let test = try await evaluator.scoreOnTest([relu, .x])
        #expect(test.validationAccuracy == first.scores[0].validationAccuracy)
        #expect(test.testAccuracy > 0.7)
    }

    @Test func specAndConfigFollowStudyOne() throws {
        let splits = blobSplits()
        let spec = try TrainerBackend.spec(setup: .study1(layers: 5), splits: splits)
        #expect(spec.widths == [3, 64, 64, 64, 64, 2])
        #expect(spec.lastLayerActivation && spec.slotCount == 5)
        let config = TrainerBackend.config(setup: .study1(layers: 5, epochs: 300))
        #expect(config.epochs == 300 && config.learningRate == 0.001 && config.batchSize == nil)
        #expect(config.earlyStopping == .study1)
        #expect(throws: TrainerError.self) {
            try TrainerBackend.spec(setup: TrainingSetup(hiddenWidths: [4], slotCount: 3), splits: splits)
        }
    }
}
