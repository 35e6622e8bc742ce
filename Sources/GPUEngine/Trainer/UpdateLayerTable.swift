/// One layer's row of the optimiser's layer table, which `adam_update` and `sgd_update` (kernels/adam_update.cl)
/// read to copy each updated weight into the backward pass's transposed mirror: 6 ints per layer, in this order.
/// Both trainers (MLP and CNN) write their tables through this type, so the order lives here and in the kernel.
struct UpdateLayerRow: Equatable {
    /// Where the layer's WT (inputs × outputPad, the bias row after it) starts in a candidate's parameters.
    var weightOffset: Int
    /// Rows of WT: the layer's inputs (a convolution's kernel rows).
    var inputs: Int
    /// Columns of WT: the outputs padded to the tile.
    var outputPad: Int
    /// Where the layer's mirror (W, outputs × mirrorRowStride) starts in a candidate's mirror.
    var mirrorOffset: Int
    /// The real outputs (mirror rows).
    var outputs: Int
    /// The mirror's row stride (the inputs padded).
    var mirrorRowStride: Int

    /// The rows as the kernels read them.
    static func table(_ rows: [UpdateLayerRow]) -> [Int32] {
        rows.flatMap { [$0.weightOffset, $0.inputs, $0.outputPad, $0.mirrorOffset, $0.outputs, $0.mirrorRowStride].map(Int32.init) }
    }
}
