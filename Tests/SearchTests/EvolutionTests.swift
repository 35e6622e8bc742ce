import Datasets
import Foundation
import Kernels
import Testing
@testable import Search

/// A trainer stand-in for evolution tests: a network's "accuracy" is how close each slot's function is to
/// that slot's target on [−3, 3] (mean over slots of 1 / (1 + mean squared error)). It records every
/// network it is asked to train, and can fail on a chosen call to simulate a killed run.
final class SyntheticFitnessBackend: PopulationTrainingBackend, @unchecked Sendable {
    let targets: [ActivationExpr]
    private let lock = NSLock()
    private var _trained: [String] = []
    private var _calls = 0
    var failOnCall: Int?
    let deviceDescription = "synthetic fitness"
    static let grid = stride(from: -3.0, through: 3.0, by: 0.25).map { $0 }

    init(targets: [ActivationExpr], failOnCall: Int? = nil) {
        self.targets = targets
        self.failOnCall = failOnCall
    }

    /// Keys of every network trained, in order (a key appears twice only if it was retrained).
    var trained: [String] { lock.withLock { _trained } }
    var calls: Int { lock.withLock { _calls } }

    static func similarity(_ f: ActivationExpr, _ target: ActivationExpr) -> Double {
        var sum = 0.0
        for x in grid {
            let d = f.evaluate(x) - target.evaluate(x)
            sum += d.isFinite ? d * d : 1e6
        }
        return 1 / (1 + sum / Double(grid.count))
    }

    func fitness(_ network: [ActivationExpr]) -> Double {
        zip(network, targets).map { Self.similarity($0, $1) }.reduce(0, +) / Double(targets.count)
    }

    struct SimulatedKill: Error {}

    func train(population: [SlotActivations], setup: TrainingSetup, splits: SearchSplits, evaluateTest: Bool)
        async throws -> [CandidateTrainingResult]
    {
        let call = lock.withLock { () -> Int in _calls += 1; return _calls }
        if call == failOnCall { throw SimulatedKill() }
        lock.withLock { _trained += population.map { $0.map(ExpressionText.render).joined(separator: " | ") } }
        return population.map { network in
            let f = fitness(network)
            return CandidateTrainingResult(trainAccuracy: [f], validationAccuracy: [f],
                                           testAccuracy: evaluateTest ? [f] : nil, diverged: false)
        }
    }
}

func syntheticEvaluator(_ backend: SyntheticFitnessBackend, store: (any StudyStore)? = nil) -> PopulationEvaluator {
    let data = LabeledData(features: [0, 1], labels: [0, 1], featureCount: 1, classCount: 2)
    return PopulationEvaluator(
        backend: backend,
        setup: TrainingSetup(hiddenWidths: [2, 2], slotCount: 3, epochs: 1, selection: .best),
        splits: SearchSplits(train: data, validation: data, test: data), store: store)
}

let referenceScreen = ExpressionScreen { e, x in e.evaluate(x) }

@Suite struct EvolutionTests {
    let xTanh = ActivationExpr.binary(.mul, .x, .unary(.tanh, .x))

    /// Study 2's setting (5 × 5 grid, paper2 primitives, λ = 4) on a one-function target, over six seeds:
    /// a single run can sit on a plateau, the strategy as a whole must climb.
    @Test func onePlusLambdaImprovesASyntheticFitness() async throws {
        var initial: [Double] = [], final: [Double] = []
        for seed in UInt64(1)...6 {
            let backend = SyntheticFitnessBackend(targets: [xTanh, xTanh, xTanh])
            let settings = EvolutionSettings(method: .single, genome: .cgp, generations: 80, population: 4, seed: seed)
            let result = try await EvolutionRun(settings: settings, evaluator: syntheticEvaluator(backend), screen: referenceScreen).run()
            initial.append(result.history[0].bestFitnessSoFar)
            final.append(result.bestFitness)
            // the ES parent never gets worse
            let parentFitness = result.history.map { $0.populations[0].bestFitness }
            #expect(zip(parentFitness, parentFitness.dropFirst()).allSatisfy { $0 <= $1 })
        }
        let improved = zip(initial, final).filter { $0.0 < $0.1 }.count
        let meanInitial = initial.reduce(0, +) / 6
        let meanFinal = final.reduce(0, +) / 6
        let solved = final.filter { $0 > 0.95 }.count
        #expect(improved >= 4)
        #expect(meanFinal > meanInitial + 0.3)
        #expect(solved >= 3)
    }

    @Test func generationalGAImprovesASyntheticFitnessWithTrees() async throws {
        let backend = SyntheticFitnessBackend(targets: [xTanh, xTanh, xTanh])
        let settings = EvolutionSettings(method: .single, genome: .tree, algorithm: .ga, generations: 12, population: 24, seed: 3)
        let run = try EvolutionRun(settings: settings, evaluator: syntheticEvaluator(backend), screen: referenceScreen)
        let result = try await run.run()
        let firstMean = result.history[0].populations[0].meanFitness
        let lastMean = result.history.last!.populations[0].meanFitness
        #expect(lastMean > firstMean)
        #expect(result.bestFitness > result.history[0].bestFitnessSoFar)
    }

    @Test func duplicatesAreNeverRetrained() async throws {
        let backend = SyntheticFitnessBackend(targets: [xTanh, .unary(.relu, .x), .unary(.tanh, .x)])
        let settings = EvolutionSettings(method: .coevo, genome: .cgp, generations: 15, population: 4, seed: 5)
        let evaluator = syntheticEvaluator(backend)
        let result = try await EvolutionRun(settings: settings, evaluator: evaluator, screen: referenceScreen).run()
        let trained = backend.trained
        #expect(Set(trained).count == trained.count)  // no network trained twice
        #expect(result.networksTrained == trained.count)
        #expect(result.duplicatesSkipped > 0)          // coevolution re-proposes the partners' bests
        #expect(result.networksEvaluated == result.networksTrained + result.duplicatesSkipped + result.rejected)
        #expect(await evaluator.trainedTotal == trained.count)
    }

    @Test func networksPerGenerationMatchTheSettingsSoRandomGetsCoevolutionsBudget() async throws {
        for method in [EvolutionMethod.coevo, .random] {
            let backend = SyntheticFitnessBackend(targets: [xTanh, xTanh, xTanh])
            var settings = EvolutionSettings(method: method, genome: .cgp, generations: 3, population: 4, seed: 2)
            settings.randomPartners = 1
            let result = try await EvolutionRun(settings: settings, evaluator: syntheticEvaluator(backend)).run()
            #expect(result.history.map(\.networks) == (0..<3).map { settings.networks(inGeneration: $0) })
        }
        var coevo = EvolutionSettings(method: .coevo, generations: 3, population: 4)
        coevo.randomPartners = 1
        #expect((0..<3).map { coevo.networks(inGeneration: $0) } == [8, 24, 24])
    }

    @Test func aKilledEvolutionResumesWithoutLosingGenerations() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("afsearch-evo-resume-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("study.sqlite").path
        let targets = [xTanh, ActivationExpr.unary(.relu, .x), ActivationExpr.unary(.tanh, .x)]
        let settings = EvolutionSettings(method: .coevo, genome: .cgp, generations: 8, population: 4, seed: 21)

        // the uninterrupted run, for reference
        let reference = try await EvolutionRun(settings: settings,
                                               evaluator: syntheticEvaluator(SyntheticFitnessBackend(targets: targets))).run()

        // killed while training generation 5 (the trainer call that never returns)
        let dying = SyntheticFitnessBackend(targets: targets, failOnCall: 6)
        var completed: [Int] = []
        do {
            let store = try SQLiteStudyStore(path: path, studyName: "resume")
            _ = try await EvolutionRun(settings: settings, evaluator: syntheticEvaluator(dying, store: store), store: store)
                .run { completed.append($0.generation) }
            Issue.record("the simulated kill did not happen")
        } catch is SyntheticFitnessBackend.SimulatedKill {}
        #expect(completed == [0, 1, 2, 3, 4])

        // a new process: fresh store handle, fresh evaluator (empty cache)
        let store = try SQLiteStudyStore(path: path, studyName: "resume")
        let survivor = SyntheticFitnessBackend(targets: targets)
        let resumed = try await EvolutionRun(settings: settings, evaluator: syntheticEvaluator(survivor, store: store), store: store).run()
        #expect(resumed.history.map(\.replayed) == [true, true, true, true, true, false, false, false])
        #expect(resumed.history.map(\.bestFitnessSoFar) == reference.history.map(\.bestFitnessSoFar))
        #expect(resumed.best == reference.best)
        // nothing trained before the kill is trained again
        #expect(Set(survivor.trained).isDisjoint(with: Set(dying.trained)))
        // every network of every generation is in the store exactly once
        let stored = try store.trials()
        #expect(stored.count == reference.networksEvaluated)
        #expect(Set(stored.map(\.group)).count == 8)

        // other settings under the same study are refused, naming the difference
        var other = settings
        other.population = 5
        await #expect(throws: EvolutionError.self) {
            _ = try await EvolutionRun(settings: other, evaluator: syntheticEvaluator(survivor, store: store), store: store).run()
        }
    }
}
