import Foundation
import Kernels
import Testing
@testable import Search

@Suite struct CoevolutionTests {
    /// Three different targets, one per slot: only a run that evolves each stage separately can fit all.
    let targets: [ActivationExpr] = [
        .binary(.mul, .x, .unary(.tanh, .x)),
        .unary(.hardtanh, .x),
        .binary(.max, .x, .unary(.tanh, .x)),
    ]

    /// Study 2's grid and λ = 4 per population, four seeds: every run must climb well above its random
    /// start, and the runs that reach the top must have matched each slot to its own target.
    @Test func threePopulationsConvergeOnAThreeSlotFitness() async throws {
        var finals: [Double] = []
        var converged = 0
        for seed in UInt64(1)...4 {
            let backend = SyntheticFitnessBackend(targets: targets)
            let settings = EvolutionSettings(method: .coevo, genome: .cgp, generations: 40, population: 4, seed: seed)
            let result = try await EvolutionRun(settings: settings, evaluator: syntheticEvaluator(backend), screen: referenceScreen).run()
            #expect(result.bestFitness > result.history[0].bestFitnessSoFar + 0.1)
            #expect(result.populationBests.map(\.name) == ["input", "hidden", "output"])
            finals.append(result.bestFitness)
            if result.bestFitness > 0.95 {
                converged += 1
                for (slot, expression) in result.best.expressions.enumerated() {
                    #expect(SyntheticFitnessBackend.similarity(expression, targets[slot]) > 0.9)
                }
            }
        }
        #expect(converged >= 2)
        let meanFinal = finals.reduce(0, +) / 4
        #expect(meanFinal > 0.85)
    }

    @Test func sequentialScheduleEvolvesOneStageAtATime() async throws {
        let backend = SyntheticFitnessBackend(targets: targets)
        var settings = EvolutionSettings(method: .coevo, genome: .cgp, generations: 9, population: 4, seed: 2)
        settings.schedule = .sequential
        let run = try EvolutionRun(settings: settings, evaluator: syntheticEvaluator(backend))
        let result = try await run.run()
        #expect(result.history.allSatisfy { $0.networks == 4 })
        // in the first third only the input stage has an evolved best; the others wait
        #expect(result.history[2].populations[1].bestExpressions.isEmpty)
        #expect(!result.history[2].populations[0].bestExpressions.isEmpty)
        #expect(result.history.last!.populations.allSatisfy { !$0.bestExpressions.isEmpty })
    }

    @Test func evoTripleEvolvesThreeFunctionsAsOneIndividual() async throws {
        let backend = SyntheticFitnessBackend(targets: targets)
        var settings = EvolutionSettings(method: .triple, genome: .cgp, generations: 30, population: 4, seed: 8)
        settings.cgpRows = 2
        let result = try await EvolutionRun(settings: settings, evaluator: syntheticEvaluator(backend)).run()
        #expect(result.best.expressions.count == 3)
        #expect(result.bestFitness > result.history[0].bestFitnessSoFar)
        #expect(result.populationBests.first?.bestExpressions.count == 3)
    }

    @Test func standardScoresTheStandardNetworkOnce() async throws {
        let backend = SyntheticFitnessBackend(targets: targets)
        var settings = EvolutionSettings(method: .standard, generations: 5)
        settings.standardActivation = "leaky_relu"
        let result = try await EvolutionRun(settings: settings, evaluator: syntheticEvaluator(backend)).run()
        #expect(backend.trained.count == 1)
        #expect(result.best.expressions == Array(repeating: .unary(.leakyRelu, .x), count: 3))
    }
}
