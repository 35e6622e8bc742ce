import Foundation
import Kernels

extension EvolutionRun {
    /// Scores for the planned networks, either replayed from the store or newly evaluated.
    struct GenerationScores {
        var fitness: [Double]
        var trialNumbers: [Int]
        var trained = 0
        var duplicates = 0
        var rejected = 0
        var compileSeconds = 0.0
        var trainSeconds = 0.0
        var records: [TrialRecord] = []
        var replayedTiming: GenerationTiming?
    }

    static func group(of generation: Int) -> String { "gen-\(generation)" }

    func runGeneration(_ generation: Int) async throws -> GenerationRecord {
        let proposeStart = Date()
        let (networks, proposals) = try plan(generation)
        let rejections = networks.map { network in network.expressions.lazy.compactMap { self.screen?.rejection($0) }.first }
        var timing = GenerationTiming()
        timing.proposeSeconds = Date().timeIntervalSince(proposeStart)

        var scores: GenerationScores
        if let stored = try storedGeneration(generation, networks: networks) {
            scores = stored
        } else {
            scores = try await evaluate(generation, networks: networks, rejections: rejections)
        }
        timing.compileSeconds = scores.compileSeconds
        timing.trainSeconds = scores.trainSeconds

        let bookkeepingStart = Date()
        var populationFitness = proposals.mapValues { [Double](repeating: 0, count: $0.count) }
        for (n, network) in networks.enumerated() {
            for credit in network.credits {
                populationFitness[credit.population]![credit.individual] =
                    Swift.max(populationFitness[credit.population]![credit.individual], scores.fitness[n])
            }
            if best == nil || scores.fitness[n] > best!.fitness {
                best = ScoredNetwork(expressions: network.expressions, fitness: scores.fitness[n], trialNumber: scores.trialNumbers[n])
            }
        }
        for s in proposals.keys.sorted() { species[s].accept(populationFitness[s]!) }
        let populations = species.indices.map { s -> PopulationRecord in
            let current = species[s].best
            let values = populationFitness[s] ?? []
            return PopulationRecord(
                name: species[s].name, bestFitness: current?.fitness ?? 0,
                meanFitness: values.isEmpty ? (current?.fitness ?? 0) : values.reduce(0, +) / Double(values.count),
                bestExpressions: current?.expressions.map { $0.canonical.description } ?? [])
        }
        if let store, !scores.records.isEmpty {
            timing.bookkeepingSeconds = Date().timeIntervalSince(bookkeepingStart)
            for index in scores.records.indices {
                scores.records[index].metrics.merge(Self.timingMetrics(timing)) { _, new in new }
            }
            try store.insert(scores.records)
        }
        timing.bookkeepingSeconds = Date().timeIntervalSince(bookkeepingStart)
        if let replayed = scores.replayedTiming { timing = replayed }

        totals.networks += networks.count
        totals.trained += scores.trained
        totals.duplicates += scores.duplicates
        totals.rejected += scores.rejected
        return GenerationRecord(
            generation: generation, populations: populations, networks: networks.count, trained: scores.trained,
            duplicatesSkipped: scores.duplicates, rejected: scores.rejected, bestFitnessSoFar: best?.fitness ?? 0,
            timing: timing, replayed: scores.replayedTiming != nil)
    }

    /// Trains what must be trained: screened-out networks score 0 without training; the rest go to the
    /// evaluator as ONE batch.
    private func evaluate(_ generation: Int, networks: [PlannedNetwork], rejections: [String?]) async throws -> GenerationScores {
        let admitted = networks.indices.filter { rejections[$0] == nil }
        let compileBefore = await compileClock?() ?? 0
        let batch = admitted.isEmpty
            ? EvaluationBatch(scores: [], trainedCount: 0, duplicatesSkipped: 0, trainSeconds: 0)
            : try await evaluator.evaluate(admitted.map { networks[$0].expressions })
        let compile = (await compileClock?() ?? 0) - compileBefore
        var scores = GenerationScores(fitness: [Double](repeating: 0, count: networks.count),
                                      trialNumbers: [Int](repeating: 0, count: networks.count))
        scores.trained = batch.trainedCount
        scores.duplicates = batch.duplicatesSkipped
        scores.rejected = networks.count - admitted.count
        scores.compileSeconds = Swift.min(compile, batch.trainSeconds)
        scores.trainSeconds = batch.trainSeconds - scores.compileSeconds
        var scoreOf: [Int: CandidateScore] = [:]
        for (k, n) in admitted.enumerated() { scoreOf[n] = batch.scores[k] }
        let now = Date()
        let perTrained = batch.trainedCount > 0 ? batch.trainSeconds / Double(batch.trainedCount) : 0
        if island != nil, let store {
            // other islands number their trials from the same counter
            nextTrialNumber = try store.reserveTrialNumbers(networks.count)
        }
        for (n, network) in networks.enumerated() {
            let number = nextTrialNumber
            nextTrialNumber += 1
            scores.trialNumbers[n] = number
            var record = TrialRecord(
                number: number, group: Self.group(of: generation), state: .failed,
                parameters: ["generation": String(generation),
                             "credits": network.credits.map { "\(species[$0.population].name)#\($0.individual)" }.joined(separator: ",")],
                expressions: network.expressions.map(ExpressionText.render),
                canonicalKey: evaluator.key(of: network.expressions), objective: 0,
                seed: settings.seed, device: evaluator.deviceDescription, startedAt: now, finishedAt: now, island: islandName)
            if let reason = rejections[n] {
                record.parameters["rejected"] = reason
                record.epochs = 0
            } else if let score = scoreOf[n] {
                scores.fitness[n] = score.objective
                record.state = score.diverged ? .diverged : .complete
                record.objective = score.objective
                record.epochs = score.epochs
                if let v = score.validationAccuracy { record.metrics["validation_accuracy"] = v }
                if let t = score.trainAccuracy { record.metrics["train_accuracy"] = t }
                if score.source == .trained && trainedTrialOfKey[score.key] == nil {
                    trainedTrialOfKey[score.key] = number
                    record.trainSeconds = perTrained
                } else {
                    record.duplicateOf = score.storedTrialNumber ?? trainedTrialOfKey[score.key]
                }
            }
            scores.records.append(record)
        }
        return scores
    }

    /// The generation's fitnesses from the store when a previous run committed it, after checking that
    /// the replay proposed exactly the stored networks.
    private func storedGeneration(_ generation: Int, networks: [PlannedNetwork]) throws -> GenerationScores? {
        guard let store else { return nil }
        let stored = try store.trials(states: nil, group: Self.group(of: generation), island: islandName)
        guard !stored.isEmpty else { return nil }
        guard stored.count == networks.count else {
            throw EvolutionError.resumeMismatch("generation \(generation) has \(stored.count) stored trials but the replay proposes \(networks.count)")
        }
        var scores = GenerationScores(fitness: [], trialNumbers: [])
        for (trial, network) in zip(stored, networks) {
            let expected = network.expressions.map(ExpressionText.render)
            guard trial.expressions == expected else {
                throw EvolutionError.resumeMismatch("generation \(generation), trial \(trial.number): stored \(trial.expressions) but the replay proposes \(expected)")
            }
            scores.fitness.append(trial.objective ?? 0)
            scores.trialNumbers.append(trial.number)
            if trial.parameters["rejected"] != nil { scores.rejected += 1 }
            else if trial.duplicateOf == nil { scores.trained += 1 }
            else { scores.duplicates += 1 }
            if let key = trial.canonicalKey, trial.duplicateOf == nil, trial.state != .failed, trainedTrialOfKey[key] == nil {
                trainedTrialOfKey[key] = trial.number
            }
        }
        scores.replayedTiming = Self.timing(fromMetrics: stored[0].metrics)
        return scores
    }

    static func timingMetrics(_ timing: GenerationTiming) -> [String: Double] {
        ["generation_propose_seconds": timing.proposeSeconds, "generation_compile_seconds": timing.compileSeconds,
         "generation_train_seconds": timing.trainSeconds, "generation_bookkeeping_seconds": timing.bookkeepingSeconds]
    }

    static func timing(fromMetrics metrics: [String: Double]) -> GenerationTiming {
        var timing = GenerationTiming()
        timing.proposeSeconds = metrics["generation_propose_seconds"] ?? 0
        timing.compileSeconds = metrics["generation_compile_seconds"] ?? 0
        timing.trainSeconds = metrics["generation_train_seconds"] ?? 0
        timing.bookkeepingSeconds = metrics["generation_bookkeeping_seconds"] ?? 0
        return timing
    }

    func result() -> EvolutionResult {
        let bestNetwork = best ?? ScoredNetwork(expressions: [], fitness: 0, trialNumber: nil)
        return EvolutionResult(
            settings: settings, history: history, best: NetworkFunctions(bestNetwork.expressions),
            bestFitness: bestNetwork.fitness, bestTrialNumber: bestNetwork.trialNumber,
            populationBests: history.last?.populations ?? [], networksEvaluated: totals.networks,
            networksTrained: totals.trained, duplicatesSkipped: totals.duplicates, rejected: totals.rejected,
            finalTest: nil, standardTest: nil, dataset: nil, network: nil, device: evaluator.deviceDescription)
    }
}
