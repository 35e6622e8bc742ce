import Foundation
@testable import Kernels

/// A small deterministic generator (SplitMix64) so random-expression tests are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

enum RandomExpressions {
    /// `count` random trees over `menu` (depth ≤ maxDepth; leaves are the menu's arity-0 entries).
    static func make(_ count: Int, menu: Menu = .default, maxDepth: Int = 4, seed: UInt64 = 7) -> [ActivationExpr] {
        var rng = SplitMix64(state: seed)
        let leaves = menu.entries.filter { $0.arity == 0 }
        let inner = menu.entries.filter { $0.arity > 0 }
        func tree(_ depth: Int) -> ActivationExpr {
            if depth <= 1 || Double.random(in: 0..<1, using: &rng) < 0.25 {
                // x most of the time, so most trees depend on the input.
                return Double.random(in: 0..<1, using: &rng) < 0.7 ? .x : leaves.randomElement(using: &rng)!.expression
            }
            let entry = inner.randomElement(using: &rng)!
            return entry.apply((0..<entry.arity).map { _ in tree(depth - 1) })
        }
        return (0..<count).map { _ in tree(maxDepth) }
    }

    /// The Swift reference rounded to float32 after every node: the device's overflow and underflow
    /// behaviour with correctly rounded primitives.
    static func evaluateFloat32(_ e: ActivationExpr, _ x: Double) -> Double {
        func r(_ v: Double) -> Double { Double(Float(v)) }
        switch e {
        case .x: return r(x)
        case .constant(let c): return r(c)
        case .parameter(_, let initial): return r(initial)
        case .layerwise: return .nan
        case .unary(let op, let a): return r(ReferencePrimitives.apply(op, evaluateFloat32(a, x)))
        case .binary(let op, let a, let b):
            return r(ReferencePrimitives.apply(op, evaluateFloat32(a, x), evaluateFloat32(b, x)))
        }
    }
}
