import Testing
import Kernels
import Datasets
@testable import GPUEngine

/// `PopulationTrainer.vocabulary`: populations drawn from one menu share one compiled program, and train
/// exactly as without it.
@Suite(.serialized) struct TrainerVocabularyTests {
    static let menu = ["relu(x)", "tanh(x)", "x * sigmoid(x)", "elu(x)", "softplus(x)", "rrelu(x)"].map { try! ActivationExpr.parse($0) }
        + [TrainerFixture.prelu, .layerwise(.softmax), .x]
    static let cache = ProgramCache(directory: nil)

    @Test func populationsFromOneMenuShareOneProgramAndTrainAlike() throws {
        let spec = try MLPSpec(widths: [6, 16, 12, 3], lastLayerActivation: false)
        let data = TrainerFixture.data(rows: 48, seed: 3)
        let config = TrainingConfig(epochs: 2, learningRate: 0.01, seed: 9)
        let m = Self.menu
        let first = [Candidate(activations: [m[1], m[0]]), Candidate(activations: [m[2], m[7]])]
        let second = [Candidate(activations: [m[3], m[4]]), Candidate(activations: [m[6], m[5]]), Candidate(activations: [m[8], m[1]])]
        let tile = TileShape.choose(for: TrainerFixture.device.peakHint, widths: spec.widths)
        let source = { (c: [Candidate]) in
            try PopulationProgram(candidates: c, tile: tile, activationSource: { try ActivationCodegen.checkedSource(for: $0) },
                                  vocabulary: Self.menu).source
        }
        #expect(try source(first) == source(second))

        let withMenu = PopulationTrainer(device: TrainerFixture.device, cache: Self.cache)
        withMenu.vocabulary = Self.menu
        for population in [first, second] {
            let shared = try withMenu.train(candidates: population, spec: spec, config: config, train: data)
            let own = try TrainerFixture.trainer.train(candidates: population, spec: spec, config: config, train: data)
            for (a, b) in zip(shared.candidates, own.candidates) { #expect(TrainerTests.sameResult(a, b)) }
        }
        #expect(Self.cache.counters.builds == 1 && Self.cache.counters.memoryHits == 1)
    }
}
