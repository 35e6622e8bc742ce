import Kernels
import Datasets

/// The checks both trainers run before touching any data, so bad input fails with a message that names
/// the candidate, split or field and what was expected.
enum TrainingInputCheck {
    /// One candidate against the spec (`index` names it in the error: its position, or a pool entry's tag).
    static func validate(candidate c: Candidate, index i: Int, spec: MLPSpec) throws {
        guard c.activations.count == spec.slotCount else {
            throw TrainerError.invalidCandidate(index: i, problem: "has \(c.activations.count) activations, the spec has \(spec.slotCount) slots")
        }
        for (s, e) in c.activations.enumerated() where containsNestedLayerwise(e) {
            throw TrainerError.invalidCandidate(index: i, problem: "slot \(s): a layer-wise function (softmax family) must be the whole expression")
        }
        if let w = c.initialWeights, w.widths != spec.widths {
            throw TrainerError.invalidCandidate(index: i, problem: "initial weights have widths \(w.widths), the spec has \(spec.widths)")
        }
        if let p = c.initialActivationParameters {
            let expected = c.activations.map(learnableParameterCount)
            guard p.map(\.count) == expected else {
                throw TrainerError.invalidCandidate(index: i, problem: "initial activation parameters per slot have counts \(p.map(\.count)), expected \(expected)")
            }
        }
    }

    static func validate(candidates: [Candidate], spec: MLPSpec, config: TrainingConfig,
                         splits: [(name: String, data: LabeledData?)]) throws {
        guard !candidates.isEmpty else { throw TrainerError.invalidConfig("the population is empty") }
        guard config.epochs >= 0 else { throw TrainerError.invalidConfig("epochs must be ≥ 0, got \(config.epochs)") }
        guard config.learningRate.isFinite, config.learningRate > 0 else {
            throw TrainerError.invalidConfig("learning rate must be a positive number, got \(config.learningRate)")
        }
        if let b = config.batchSize, b < 1 { throw TrainerError.invalidConfig("batch size must be ≥ 1, got \(b)") }
        if let e = config.earlyStopping, e.patience < 1 {
            throw TrainerError.invalidConfig("early-stopping patience must be ≥ 1, got \(e.patience)")
        }
        for (i, c) in candidates.enumerated() { try validate(candidate: c, index: i, spec: spec) }
        for (name, data) in splits {
            guard let data else { continue }
            guard data.rowCount > 0 else { throw TrainerError.invalidData(split: name, problem: "has no rows") }
            guard data.featureCount == spec.inputCount else {
                throw TrainerError.invalidData(split: name, problem: "has \(data.featureCount) features, the network takes \(spec.inputCount)")
            }
            if let bad = data.labels.first(where: { $0 < 0 || Int($0) >= spec.classCount }) {
                throw TrainerError.invalidData(split: name, problem: "label \(bad) is outside 0..<\(spec.classCount) (the network's classes)")
            }
        }
    }

    static func containsNestedLayerwise(_ e: ActivationExpr) -> Bool {
        func inner(_ e: ActivationExpr) -> Bool {
            switch e {
            case .layerwise: return true
            case .unary(_, let a): return inner(a)
            case .binary(_, let a, let b): return inner(a) || inner(b)
            default: return false
            }
        }
        if case .layerwise = e { return false }
        return inner(e)
    }

    /// Distinct learnable parameters of an expression, in first-appearance order.
    static func learnableParameterCount(_ e: ActivationExpr) -> Int {
        learnableParameters(e).count
    }

    static func learnableParameters(_ e: ActivationExpr) -> [(name: String, initial: Double)] {
        var out: [(name: String, initial: Double)] = []
        func rec(_ e: ActivationExpr) {
            switch e {
            case .parameter(let n, let v): if !out.contains(where: { $0.name == n }) { out.append((n, v)) }
            case .unary(_, let a): rec(a)
            case .binary(_, let a, let b): rec(a); rec(b)
            default: break
            }
        }
        rec(e)
        return out
    }
}
