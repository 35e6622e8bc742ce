/// Counter-based randomness: every random number is a pure function of (seed, stream, counter), so a
/// candidate's initial weights do not depend on what else is in the population, and the device can draw the
/// same numbers without carrying generator state.
public enum CounterRNG {
    /// SplitMix64's finaliser: a bijective 64-bit mix with full avalanche.
    @inline(__always)
    public static func mix(_ z0: UInt64) -> UInt64 {
        var z = z0 &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    @inline(__always)
    public static func bits(seed: UInt64, stream: UInt64, counter: UInt64) -> UInt64 {
        mix(mix(seed ^ mix(stream &* 0xD1B5_4A32_D192_ED03)) &+ counter)
    }

    /// Uniform in [0, 1) with 53 random bits.
    @inline(__always)
    public static func uniform(seed: UInt64, stream: UInt64, counter: UInt64) -> Double {
        Double(bits(seed: seed, stream: stream, counter: counter) >> 11) * 0x1p-53
    }

    /// The 32-bit mixer the kernels use (`af_mix32` in mlp_common.cl; lowbias32 by C. Wellons); kept
    /// bit-identical here so the reference can draw the device's Gumbel noise.
    @inline(__always)
    public static func mix32(_ x0: UInt32) -> UInt32 {
        var x = x0
        x ^= x >> 16; x = x &* 0x7FEB_352D
        x ^= x >> 15; x = x &* 0x846C_A68B
        x ^= x >> 16
        return x
    }

    /// Uniform in (0, 1) from 24 bits of a 32-bit hash, the float the kernels draw (mlp_common.cl's
    /// `af_gumbel`): (k + 0.5) · 2^-24 rounded to float (to even from k = 2^23 on), the top draw, which rounds to
    /// 1, held at the largest float below 1. Never 0 or 1, so `-log(-log(u))` is finite.
    @inline(__always)
    public static func openUniform(_ h: UInt32) -> Double {
        Double(min((Float(h >> 8) + 0.5) * 0x1p-24, Float(1).nextDown))
    }
}

/// PyTorch's `nn.Linear` initialisation (weights and biases U(−1/√fan_in, 1/√fan_in)) drawn from a
/// candidate's seed: layer ℓ's weights use stream 2ℓ, its biases stream 2ℓ+1, element index as counter.
public enum LinearInit {
    public static func weights(widths: [Int], seed: UInt64) -> LinearStackWeights {
        var layers: [LinearStackWeights.Layer] = []
        for l in 0..<(widths.count - 1) {
            let fanIn = widths[l], fanOut = widths[l + 1]
            let bound = 1.0 / Double(fanIn).squareRoot()
            func draw(_ stream: UInt64, _ count: Int) -> [Float] {
                (0..<count).map { i in
                    Float((2 * CounterRNG.uniform(seed: seed, stream: stream, counter: UInt64(i)) - 1) * bound)
                }
            }
            layers.append(.init(inputs: fanIn, outputs: fanOut,
                                weight: draw(UInt64(2 * l), fanIn * fanOut), bias: draw(UInt64(2 * l + 1), fanOut)))
        }
        return LinearStackWeights(layers: layers)
    }
}

/// The row order of one epoch of mini-batch training: a Fisher–Yates shuffle driven by (run seed, epoch),
/// shared by every candidate of the population.
public enum EpochShuffle {
    public static func order(rows: Int, seed: UInt64, epoch: Int) -> [Int32] {
        var order = (0..<rows).map { Int32($0) }
        guard rows > 1 else { return order }
        let stream = 0x5348_5546_0000_0000 | UInt64(epoch)
        for i in stride(from: rows - 1, to: 0, by: -1) {
            let j = Int(CounterRNG.bits(seed: seed, stream: stream, counter: UInt64(i)) % UInt64(i + 1))
            order.swapAt(i, j)
        }
        return order
    }
}

/// The study-1 early-stopping state of one candidate.
struct EarlyStoppingTracker {
    let rule: EarlyStopping
    private var previous: Double?
    private var flatEpochs = 0

    init(rule: EarlyStopping) { self.rule = rule }

    /// Records an epoch's training accuracy; true when the candidate should stop after this epoch.
    mutating func record(trainAccuracy: Double) -> Bool {
        defer { previous = trainAccuracy }
        guard let previous else { return false }
        if trainAccuracy - previous < rule.minImprovement { flatEpochs += 1 } else { flatEpochs = 0 }
        return flatEpochs >= rule.patience
    }
}
