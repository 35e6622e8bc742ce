/// A seeded random number generator for the evolutionary searches (SplitMix64).
///
/// Its whole state is one `UInt64`, so a checkpoint can store it and a resumed run draws exactly the numbers
/// the uninterrupted run would have drawn. Not for cryptography.
public struct GPRandom: RandomNumberGenerator, Codable, Sendable, Hashable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// An independent stream for a sub-task (a replicate, a population), derived from this one's seed.
    public func derived(_ salt: UInt64) -> GPRandom {
        var copy = GPRandom(seed: state ^ (salt &* 0xD6E8_FEB8_6659_FD93))
        _ = copy.next()
        return copy
    }
}
