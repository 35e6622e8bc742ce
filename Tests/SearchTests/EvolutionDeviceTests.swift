import Foundation
import GPUEngine
import Kernels
import Testing
@testable import Search

/// The evolution on the real OpenCL population trainer (PoCL here): one program per generation, every
/// generation's networks trained in one population, the final retraining scored at the last epoch.
@Suite(.serialized) struct EvolutionDeviceTests {
    static let device = Result { try ComputeDevice.select(nil) }

    @Test func coevolutionRunsOnTheDeviceTrainer() async throws {
        let device = try Self.device.get()
        let trainer = PopulationTrainer(device: device, cache: ProgramCache(directory: nil),
                                        activationSource: { try ActivationCodegen.checkedSource(for: $0) })
        let csv = try ExperimentEvolutionTests.blobsCSV()
        defer { try? FileManager.default.removeItem(at: csv.deletingLastPathComponent()) }
        let network = ExperimentEvolutionTests.network
        let backend = Study2TrainingBackend(trainer: trainer, network: network)
        let settings = EvolutionSettings(method: .coevo, genome: .cgp, generations: 2, population: 2, seed: 6)
        var recipe = ExperimentEvolutionTests.recipe(csv)
        recipe.finalEpochs = 30  // enough steps for a small ReLU network to learn the blobs
        let job = EvolutionJob(settings: settings, recipe: recipe, backend: backend,
                               store: nil, folder: nil)
        let result = try await job.run()
        #expect(result.history.count == 2)
        #expect(result.history.allSatisfy { $0.trained == 0 || $0.timing.compileSeconds > 0 })  // a program per trained generation
        #expect(result.bestFitness > 0.5)
        let test = try #require(result.finalTest)
        #expect(test.epochs == 30)
        #expect((0...1).contains(test.testAccuracy))
        // the evolved network's score depends on what evolution found (RReLU noise included); the
        // standard ReLU network under the same final protocol must learn the three separable blobs
        #expect(result.standardTest!.testAccuracy > 0.5)

        // the device's final protocol agrees with the Swift reference trainer's on the standard network
        // (deterministic functions; RReLU's training noise differs between the two trainers)
        let reference = Study2TrainingBackend.reference(network: network)
        let data = try recipe.load()
        let setup = recipe.finalSetup(trainRows: data.final.train.rowCount, seed: settings.seed)
        let relu = ActivationExpr.unary(.relu, .x)
        let inSwift = try await reference.train(population: [[relu, relu, relu]], setup: setup, splits: data.final, evaluateTest: true)
        #expect(abs(result.standardTest!.testAccuracy - inSwift[0].testAccuracy!.last!) <= 2.0 / 60)  // at most 2 of 60 rows differ
    }
}
