import Foundation

/// The fused training steps (kernels/mlp_fused.cl, `RowPass`): `mlp_train_candidate` runs a candidate's
/// forward, loss, data and weight gradients of every layer in one work-item, block of rows by block of rows;
/// `mlp_train_rows` runs the forward, loss and data gradients of a row tile, and the weight gradients follow
/// as per-layer launches. The optimiser is its own launch, but for Adam in `mlp_train_candidate`, whose
/// work-item takes its candidate's step as soon as its gradients are summed.
extension TrainingSession {
    /// Whether the fused kernels can run this chunk's steps: every hidden layer exactly one tile wide (a
    /// work-item holds whole rows, so layer-wise slots run their rows in place), the classes within a float16
    /// and the tile. Any slot: slopes, Z kept for learnable parameters and noise, layer-wise, interpreted.
    static func fusedRowsAllowed(layout: MLPLayout) -> Bool {
        let spec = layout.spec, tn = layout.tile.columns
        return spec.widths.dropFirst().dropLast().allSatisfy { $0 == tn }
            && spec.classCount <= min(16, tn) && layout.paddedWidths.last == tn
    }

    /// One optimisation step on the gathered batch: fused row work when this chunk allows it, else the
    /// per-layer launches (`forward`, `loss`, `backwardAndUpdate`). The same bits either way.
    /// `evaluating`: a split whose evaluation pass the step may run in its own launch after the update (a slot
    /// pool's epoch's last step); `evaluate(split:)` then reads the sums it left instead of launching the pass.
    func trainStep(rows: Int, pass: UInt32, step: Int, config: TrainingConfig, evaluating: String? = nil) throws {
        guard let fused else {
            try forward(rows: rows, training: true, pass: pass, rowOffset: 0)
            try loss(rows: rows, training: true, pass: pass, metrics: trainMetrics)
            try backwardAndUpdate(rows: rows, pass: pass, step: step, config: config)
            return
        }
        let common = fusedArguments(info: fused.info, rows: rows, pass: pass, training: true)
        if fused.pass == .candidates {
            // With Adam the kernel's tail sums the metrics and parameter partials and takes the optimiser step.
            var update = false, b1 = 0.0, b2 = 0.0, eps = 0.0
            if case .adam(let a, let b, let e) = config.optimizer {
                (update, b1, b2, eps) = (true, a, b, e)
                try uploadStepArguments(steps: candidateSteps(step), config: config)
            }
            let rowsPad = rowTilesPad(rows)
            let evaluation = try update ? stepEvaluation(of: evaluating) : nil
            try launch(fused.kernel, global: [count], local: [1], named: common + [
                ("grads", grads), ("block_rows", Int32(fused.blockRows)), ("update", Int32(update ? 1 : 0)),
                ("metrics", trainMetrics), ("part_layout", partialLayout), ("part_layouts", Int32(layout.partialLayout.count)),
                ("row_tiles", Int32(rowsPad / layout.tile.rows)), ("rows_pad", Int32(rowsPad)), ("wparams", params),
                ("m1", moment1), ("m2", moment2), ("wmirror", mirror), ("wlayout", updateLayout),
                ("wlayers", Int32(updateLayers)), ("step_args", stepArgs), ("b1", Float(b1)), ("b2", Float(b2)),
                ("eps", Float(eps)), ("eval_rows", Int32(evaluation?.rows ?? 0)), ("eval_input", evaluation?.input ?? input),
                ("eval_labels", evaluation?.labels ?? batchLabels),
                ("eval_inv_rows", Float(1.0 / Double(max(evaluation?.rows ?? 1, 1)))),
                ("eval_pass", NoiseKey.evaluationPass), ("eval_metrics", evalMetrics)])
            if update { return }
        } else {
            // With tapes, each work-item holds the interpreter's register file (6 KB): work-groups of one, as
            // PoCL lays a work-group's private arrays side by side on one stack (InterpretedActivations).
            try launch(fused.kernel, global: [rowTilesPad(rows) / layout.tile.rows, count],
                       local: interpreter == nil ? nil : [1, 1], named: common)
        }
        try launch(reduceKernel, global: [count], rowLoss, rowHit, Int32(layout.capacityRows), Int32(rows),
                   trainMetrics, Int32(1), status)
        if fused.pass == .tiles {
            for l in stride(from: spec.layerCount - 1, through: 0, by: -1) {
                try weightGradients(layer: l, dz: z[l], dzCandidateStride: layout.activationStride(layer: l), rows: rows)
            }
        }
        try parameterGradients(rows: rows)
        try optimizerStep(step: step, config: config)
    }

    /// The evaluation of split `name` a step with Adam's tail runs in its launch: in a compiled program (whose
    /// evaluation passes are fused too), a split of one block of rows, gathered once; its sums zeroed. nil for
    /// none. `evaluate(split:)` reads the sums after the step.
    private func stepEvaluation(of name: String?) throws -> (rows: Int, input: DeviceBuffer<Float>, labels: DeviceBuffer<Int32>)? {
        guard let name, let fused, fused.evaluation != nil, let split = splits[name],
              split.rows <= layout.capacityRows else { return nil }
        if gatheredSplits[name] == nil {
            let rowsPad = rowTilesPad(split.rows)
            let gathered = (input: try device.buffer(Float.self, count: rowsPad * layout.paddedWidths[0]),
                            labels: try device.buffer(Int32.self, count: rowsPad))
            try gather(split, start: 0, rows: split.rows, order: nil, into: gathered.input, labels: gathered.labels)
            gatheredSplits[name] = gathered
        }
        try evalMetrics.fill(0)
        evaluatedInStep = name
        return (split.rows, gatheredSplits[name]!.input, gatheredSplits[name]!.labels)
    }

    /// The arguments the fused kernels share (MLP_ROWS_PARAMS in kernels/mlp_fused.cl), then `status`, by name.
    private func fusedArguments(info: DeviceBuffer<Int32>, rows: Int, pass: UInt32,
                                training: Bool) -> [(name: String, value: any KernelArgumentConvertible)] {
        let slotBatch = training ? trainingSlotBatches : nil
        let (labels, labelStride) = labelsRead(training: training)
        return [("input", slotBatch?.input ?? input), ("input_stride", Int32(layout.paddedWidths[0])),
            ("input_cstride", Int32(slotBatch?.inputStride ?? 0)), ("params", params),
            ("pstride", Int32(layout.parameterStride)), ("mirror", mirror), ("mstride", Int32(layout.mirrorStride)),
            ("a_all", aAll), ("z_all", zAll), ("info", info), ("layers", Int32(spec.layerCount)),
            ("cstride", Int32(layout.activationStride(layer: 0))), ("rows", Int32(rows)), ("act_id", activationIDs),
            ("slots", Int32(slots)), ("labels", labels), ("label_cstride", Int32(labelStride)), ("classes", Int32(spec.classCount)),
            ("inv_rows", Float(1.0 / Double(rows))), ("row_loss", rowLoss), ("row_hit", rowHit),
            ("rows_cap", Int32(layout.capacityRows)),
            // The interpreter's tapes (any buffers when the program is compiled: the kernels do not read them).
            ("tape_at", interpreter?.offsets ?? activationIDs), ("tape", interpreter?.tape ?? info),
            ("tape_const", interpreter?.constants ?? params), ("seeds", seeds), ("pass", pass),
            // Learnable parameters' partials, and the scratch rows of slots that keep Z (dz[0]: unused by fused steps).
            ("act_nparams", parameterCounts), ("aoff", Int32(layout.activationParameterOffset)), ("partials", partials),
            ("part_cstride", Int32(layout.partialStride)), ("scratch", dz[0]), ("status", status)]
    }

    /// The evaluation pass over the gathered block of `rows` rows (the split's from `rowOffset`), fused as the
    /// training step: `mlp_eval_candidate` runs a candidate's rows (in blocks of `blockRows`, layer by layer)
    /// through every layer and the loss and adds their sums to `metrics` in one launch; `mlp_eval_rows` a row
    /// tile's, and `metrics_reduce` sums them.
    /// The per-layer launches' bits (`forward` and `loss` in evaluation mode). `skipFrozen`: the kernels' flag.
    /// Returns false, launching nothing, where this chunk evaluates per layer (no fused step, or interpreted
    /// activations).
    func evaluateFused(rows: Int, rowOffset: Int, skipFrozen: Int32, metrics: DeviceBuffer<Float>) throws -> Bool {
        guard let fused, let kernel = fused.evaluation else { return false }
        let common = fusedArguments(info: fused.info, rows: rows, pass: NoiseKey.evaluationPass, training: false)
            + [("skip_frozen", skipFrozen), ("row_offset", Int32(rowOffset))]
        if fused.pass == .candidates {
            try launch(kernel, global: [count], local: [1],
                       named: common + [("metrics", metrics), ("block_rows", Int32(fused.blockRows))])
        } else {
            try launch(kernel, global: [rowTilesPad(rows) / layout.tile.rows, count], named: common)
            try launch(reduceKernel, global: [count], rowLoss, rowHit, Int32(layout.capacityRows), Int32(rows),
                       metrics, Int32(0), status)
        }
        return true
    }
}

/// One layer's row of the fused kernels' layer table (`info` in kernels/mlp_fused.cl, MLP_INFO ints per layer,
/// in this order).
struct FusedLayerRow: Equatable {
    /// Where the layer's WT starts in a candidate's parameters.
    var weightOffset: Int
    var inputs: Int
    var outputs: Int
    /// Where the layer's mirror (W) starts in a candidate's mirror.
    var mirrorOffset: Int
    /// The layer's activation slot, -1 for none.
    var slot: Int
    /// Where the layer's A and Z/dZ start in `aAll` and `zAll`.
    var activationOffset: Int
    /// Where the slot's learnable-parameter partials start in `partials` (0 without a slot).
    var partialOffset: Int

    static func table(_ rows: [FusedLayerRow]) -> [Int32] {
        rows.flatMap { [$0.weightOffset, $0.inputs, $0.outputs, $0.mirrorOffset, $0.slot, $0.activationOffset, $0.partialOffset].map(Int32.init) }
    }
}
