import Foundation
import Testing
import Kernels
import Datasets
@testable import GPUEngine

/// Inputs of `afsearch train` / `afsearch bench train`: activation lists, population files, the study-1
/// workload definition, and one real (tiny) bench run on the device.
@Suite struct BenchTrainInputTests {
    @Test func listsSplitOnlyAtTopLevelCommasAndAcceptBareNamesAndIdentity() throws {
        #expect(ActivationLists.split("relu, max(x,0) ,x*sigmoid(x)") == ["relu", "max(x,0)", "x*sigmoid(x)"])
        let parsed = try ActivationLists.parse("relu,tanh,x*sigmoid(x),none", location: "--activations")
        #expect(parsed == [.unary(.relu, .x), .unary(.tanh, .x), try ActivationExpr.parse("x*sigmoid(x)"), .x])
        #expect(try ActivationLists.parseEntry("identity") == .x)
        #expect(try ActivationLists.parseEntry("max(x,0)") == .binary(.max, .x, .constant(0)))
        #expect(try ActivationLists.parseEntry("softmax") == .layerwise(.softmax))
    }

    @Test func badEntriesNameTheLocationEntryAndProblem() {
        func failure(_ text: String) -> ActivationListError? {
            do { _ = try ActivationLists.parse(text, location: "--activations"); return nil } catch { return error }
        }
        let unknown = failure("relu,frobnicate(x)")
        #expect(unknown?.entry == 2)
        #expect(unknown?.description.hasPrefix("--activations: activation 2: 'frobnicate(x)'") == true)
        #expect(failure("relu,,tanh")?.entry == 2)
        #expect(failure("relu,")?.entry == 2)
        #expect(failure("")?.entry == nil)
        #expect(failure("relu,(x")?.entry == 2)
    }

    @Test func populationFileSkipsCommentsAndBlankLinesAndReportsFileLine() throws {
        let text = """
        # study 1 style candidates
        relu, tanh, none

        sigmoid,elu   # trailing comment
        """
        let lists = try ActivationLists.parseFile(text, name: "pop.txt")
        #expect(lists.map(\.line) == [2, 4])
        #expect(lists[0].activations == [.unary(.relu, .x), .unary(.tanh, .x), .x])
        #expect(lists[1].activations == [.unary(.sigmoid, .x), .unary(.elu, .x)])
        do {
            _ = try ActivationLists.parseFile("relu\n\nrelu, bogus(\n", name: "pop.txt")
            Issue.record("accepted a malformed line")
        } catch {
            #expect(error.location == "pop.txt:3" && error.entry == 2, "\(error)")
        }
        #expect(throws: ActivationListError.self) { try ActivationLists.parseFile("# only comments\n\n", name: "empty.txt") }
    }

    @Test func study1WorkloadMatchesThePeersDefinition() throws {
        let w = Study1Workload()
        #expect(w.widths == [20, 64, 64, 64, 64, 10])
        #expect(try w.spec().layerCount == 5)
        // bench/peers/torch_loop.py reports weights_per_candidate 14474 for the same defaults.
        #expect(w.weightsPerCandidate == 14474)
        #expect(w.weightsPerCandidate == (try w.spec().weightCount))
        let c = w.candidates()
        #expect(c.count == 64 && c.allSatisfy { $0.activations.count == 4 })
        #expect(c[9].activations[0] == .unary(.tanh, .x) && c[15].activations[3] == .unary(.mish, .x))
        let data = w.syntheticData()
        #expect(data.rowCount == 1000 && data.featureCount == 20 && data.classCount == 10)
        #expect(Set(data.labels).count == 10, "the teacher should use every class")
        let mean = data.features.reduce(0, +) / Float(data.features.count)
        let variance = data.features.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(data.features.count)
        #expect(abs(mean) < 0.05 && abs(variance - 1) < 0.05, "features should be standard normal: mean \(mean), variance \(variance)")
        #expect(data == w.syntheticData(), "same seed, same data")
    }

    /// A real run on the device with the trainer tests' stand-in code generator (relu and tanh only):
    /// throughput is positive, the count of candidate-epochs is the workload's, and the networks learn.
    @Test func benchRunTrainsTheWorkloadAndReportsConsistentRates() throws {
        var w = Study1Workload()
        w.population = 2
        w.layers = 3
        w.samples = 200
        w.epochs = 40
        w.learningRate = 1e-2
        let r = try TrainingBench.run(w, trainer: TrainerFixture.trainer, warmupEpochs: 1)
        #expect(r.seconds > 0 && r.candidateEpochsPerSecond > 0)
        let expected = Double(w.population * w.epochs) / r.seconds
        #expect(abs(r.candidateEpochsPerSecond - expected) < 1e-9 * expected)
        #expect(abs(r.gflops - 6 * 200 * Double(w.weightsPerCandidate) * expected / 1e9) < 1e-9 * r.gflops)
        #expect(r.divergedCandidates == 0)
        #expect(r.meanFinalTrainAccuracy > 0.3, "10 classes: chance is 0.1, got \(r.meanFinalTrainAccuracy)")
    }
}
