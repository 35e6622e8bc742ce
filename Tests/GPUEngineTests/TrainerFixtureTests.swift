import Foundation
import Testing
import Kernels
import Datasets
@testable import GPUEngine

/// Shared fixtures of the trainer tests: the device, one trainer (its programs come from the runtime's
/// program cache, so each distinct population source is built once per process) and tiny seeded datasets.
enum TrainerFixture {
    static let device: ComputeDevice = try! ComputeDevice.select()
    static let trainer = PopulationTrainer(device: device)

    /// `rows` samples of a seeded 3-class problem in `features` dimensions: the class is the argmax of three
    /// fixed linear scores, features U(−1.5, 1.5).
    static func data(rows: Int, features: Int = 6, classes: Int = 3, seed: UInt64) -> LabeledData {
        var x = [Float](), y = [Int32]()
        for r in 0..<rows {
            let row = (0..<features).map { Float(3 * CounterRNG.uniform(seed: seed, stream: 1, counter: UInt64(r * features + $0)) - 1.5) }
            let scores = (0..<classes).map { k in
                row.enumerated().reduce(Float(0)) { $0 + $1.element * Float(((k + 1) * ($1.offset + 2)) % 5 - 2) }
            }
            x += row
            y.append(Int32(scores.firstIndex(of: scores.max()!)!))
        }
        return LabeledData(features: x, labels: y, featureCount: features, classCount: classes)
    }

    static let prelu: ActivationExpr = .binary(.add, .unary(.relu, .x),
                                               .binary(.mul, .parameter(name: "a", initial: 0.25), .binary(.min, .constant(0), .x)))
}

/// A small hand-written stand-in for the project's activation code generator (kept for CNNTrainerTests;
/// the MLP trainer tests use the real `ActivationCodegen`): it emits `af_act`,
/// `af_dact` and `af_dparam` for a few ops by forward-mode differentiation of the expression tree, so the
/// trainer's kernels can be tested on their own. RReLU draws its training slope from U(1/8, 1/3) by
/// hashing the key.
enum StandInActivationSource {
    struct Unsupported: Error { let op: String }

    static func source(for exprs: [ActivationExpr]) throws -> String {
        var act = "", dact = "", dparam = ""
        for (id, e) in exprs.enumerated() {
            let names = e.parameters.map(\.name)
            act += "    case \(id): return \(try emit(e, names: names, seed: nil).v);\n"
            dact += "    case \(id): return \(try emit(e, names: names, seed: -1).d);\n"
            for k in names.indices {
                dparam += "    case \(id * 64 + k): return \(try emit(e, names: names, seed: k).d);\n"
            }
        }
        return """
        inline float standin_rrelu_slope(uint key) {
            if (key == 0u) return (1.0f / 8.0f + 1.0f / 3.0f) * 0.5f;
            uint h = key * 0x9e3779b9u; h ^= h >> 15; h *= 0x85ebca6bu; h ^= h >> 13;
            return 1.0f / 8.0f + (1.0f / 3.0f - 1.0f / 8.0f) * ((float)(h >> 8) * 0x1p-24f);
        }
        float af_act(int id, float x, __global const float* prm, uint key) {
            switch (id) {
        \(act)    }
            return x;
        }
        float af_dact(int id, float x, __global const float* prm, uint key) {
            switch (id) {
        \(dact)    }
            return 1.0f;
        }
        float af_dparam(int id, int k, float x, __global const float* prm, uint key) {
            switch (id * 64 + k) {
        \(dparam)    }
            return 0.0f;
        }
        """
    }

    /// (value, derivative) C expressions; seed −1 differentiates in x, k ≥ 0 in parameter k, nil none.
    static func emit(_ e: ActivationExpr, names: [String], seed: Int?) throws -> (v: String, d: String) {
        switch e {
        case .x: return ("x", seed == -1 ? "1.0f" : "0.0f")
        case .constant(let c): return ("(\(Float(c))f)", "0.0f")
        case .parameter(let name, _):
            let k = names.firstIndex(of: name)!
            return ("prm[\(k)]", seed == k ? "1.0f" : "0.0f")
        case .unary(let op, let a):
            let (u, du) = try emit(a, names: names, seed: seed)
            switch op {
            case .relu: return ("fmax(\(u), 0.0f)", "((\(u)) > 0.0f ? (\(du)) : 0.0f)")
            case .tanh: return ("tanh(\(u))", "((1.0f - tanh(\(u)) * tanh(\(u))) * (\(du)))")
            case .exp: return ("exp(\(u))", "(exp(\(u)) * (\(du)))")
            case .sigmoid:
                let s = "(1.0f / (1.0f + exp(-(\(u)))))"
                return (s, "(\(s) * (1.0f - \(s)) * (\(du)))")
            case .softplus:
                return ("((\(u)) > 20.0f ? (\(u)) : log1p(exp(\(u))))", "((1.0f / (1.0f + exp(-(\(u))))) * (\(du)))")
            case .rrelu:
                return ("((\(u)) >= 0.0f ? (\(u)) : standin_rrelu_slope(key) * (\(u)))",
                        "(((\(u)) >= 0.0f ? 1.0f : standin_rrelu_slope(key)) * (\(du)))")
            default: throw Unsupported(op: op.rawValue)
            }
        case .binary(let op, let a, let b):
            let (l, dl) = try emit(a, names: names, seed: seed)
            let (r, dr) = try emit(b, names: names, seed: seed)
            switch op {
            case .add: return ("((\(l)) + (\(r)))", "((\(dl)) + (\(dr)))")
            case .sub: return ("((\(l)) - (\(r)))", "((\(dl)) - (\(dr)))")
            case .mul: return ("((\(l)) * (\(r)))", "((\(dl)) * (\(r)) + (\(l)) * (\(dr)))")
            case .min: return ("fmin(\(l), \(r))", "((\(l)) <= (\(r)) ? (\(dl)) : (\(dr)))")
            case .max: return ("fmax(\(l), \(r))", "((\(l)) >= (\(r)) ? (\(dl)) : (\(dr)))")
            default: throw Unsupported(op: op.rawValue)
            }
        default: throw Unsupported(op: "\(e)")
        }
    }
}

@Suite struct TrainerFixtureTests {
    @Test func seededDataIsReproducibleAndUsesEveryClass() {
        let a = TrainerFixture.data(rows: 64, seed: 3), b = TrainerFixture.data(rows: 64, seed: 3)
        #expect(a == b)
        #expect(Set(a.labels).count == 3)
    }
}
