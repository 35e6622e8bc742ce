import Kernels

/// The randomness of the CNN trainer's dropout, shared bit for bit with the kernels (`cnn_dropout_keep`).
public enum DropoutMask {
    /// The pass number of micro-batch `micro` of optimiser step `step`: every micro-batch draws fresh
    /// masks (keys also carry the image's row within its micro-batch).
    public static func pass(step: Int, micro: Int) -> UInt32 {
        UInt32(truncatingIfNeeded: step) &* 4096 &+ UInt32(truncatingIfNeeded: micro)
    }

    /// Whether element `index` (PyTorch's flattened c·H·W + y·W + x) of image `row` is kept.
    public static func keep(seed: UInt64, pass: UInt32, layer: Int, row: Int, index: Int, rate: Double) -> Bool {
        let base = NoiseKey.passBase(seed32: NoiseKey.seed32(seed), pass: pass)
        let key = NoiseKey.elementKey(base: base, layer: layer, row: row, column: index)
        let u = Float(CounterRNG.mix32(key ^ 0x2545_F491) >> 8) * 0x1p-24
        return u >= Float(rate)
    }
}
