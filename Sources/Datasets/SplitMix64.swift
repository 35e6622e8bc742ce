/// SplitMix64 (Steele, Lea & Flood 2014): a 64-bit state advanced by a Weyl constant and scrambled by two
/// xor-shift-multiply rounds. Used for every split and shuffle here so that a seed gives the same rows on
/// every platform and Swift version (`SystemRandomNumberGenerator` cannot be seeded, and the standard
/// library's `shuffle(using:)` algorithm is not promised to stay the same).
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public private(set) var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `0..<bound` without modulo bias: Lemire's multiply-shift with rejection of the short
    /// low-word interval.
    public mutating func nextIndex(below bound: Int) -> Int {
        precondition(bound > 0, "bound must be positive")
        let b = UInt64(bound)
        var product = next().multipliedFullWidth(by: b)
        if product.low < b {
            let threshold = (0 &- b) % b
            while product.low < threshold { product = next().multipliedFullWidth(by: b) }
        }
        return Int(product.high)
    }

    /// A generator for a named sub-task of `seed` (e.g. the validation split of replicate 3), so that
    /// changing one part of a protocol does not shift the random stream of another.
    public static func derived(from seed: UInt64, stream: UInt64) -> SplitMix64 {
        var mixer = SplitMix64(seed: seed ^ (stream &* 0xD1B5_4A32_D192_ED03))
        return SplitMix64(seed: mixer.next())
    }
}

extension Array {
    /// Fisher–Yates with `SplitMix64.nextIndex`, stable across platforms for a given generator state.
    public mutating func seededShuffle(using generator: inout SplitMix64) {
        guard count > 1 else { return }
        for i in stride(from: count - 1, to: 0, by: -1) {
            let j = generator.nextIndex(below: i + 1)
            if i != j { swapAt(i, j) }
        }
    }
}
