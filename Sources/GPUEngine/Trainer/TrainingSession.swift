import Foundation
import Datasets

/// One chunk of a population on the device: its buffers, and the launches of a training step and of an
/// evaluation pass. Kernel shapes and buffer layouts are documented in kernels/mlp_*.cl.
final class TrainingSession: PopulationState, PopulationSession {
    let layout: MLPLayout
    let spec: MLPSpec

    /// Which GEMM kernels run and in what launch shapes (`GEMMVariant`; its tile is `layout.tile`).
    let gemm: GEMMVariant
    // Kernels (one object per session: argument setting is per kernel object).
    let forwardKernel, backwardDataKernel, backwardWeightsKernel, lossKernel, reduceKernel: ComputeKernel
    let gatherKernel, gatherSlotsKernel, layerwiseForwardKernel, layerwiseBackwardKernel, paramGradsKernel, updateKernel: ComputeKernel
    /// The fused row kernel (kernels/mlp_fused.cl) when this chunk's steps run fused: `mlp_train_candidate`
    /// (pass `.candidates`) or `mlp_train_rows` (`.tiles`), with its per-layer table; and the evaluation pass's
    /// `mlp_eval_candidate` or `mlp_eval_rows` (nil with interpreted activations: they evaluate per layer).
    let fused: (kernel: ComputeKernel, evaluation: ComputeKernel?, info: DeviceBuffer<Int32>, pass: RowPass, blockRows: Int)?
    /// The activation interpreter's kernels and tapes (interpreted execution only).
    let interpreter: InterpretedActivations?

    /// Every layer's Z (or act'(Z), then dZ in a fused step) and A, as slices of one buffer each.
    let z, a: [DeviceBuffer<Float>]
    let zAll, aAll: DeviceBuffer<Float>
    let dz: [DeviceBuffer<Float>]
    let partials: DeviceBuffer<Float>
    let partialLayout: DeviceBuffer<Int32>
    /// Layers whose slot is layer-wise for at least one candidate of this chunk.
    var layerwiseLayers: Set<Int>
    /// Layers whose slot is interpreted for at least one candidate of this chunk (a pool updates it as
    /// candidates enter).
    var interpretedLayers: Set<Int>
    /// The shared input batch (and its labels, `batchLabels`): every evaluation pass, and training steps
    /// unless `slotBatches`.
    let input: DeviceBuffer<Float>
    /// Each candidate's own training batch, where a slot pool's candidates are at different epochs of their
    /// mini-batch shuffles (`enableSlotBatches`, `gatherSlots`); nil: training steps read the shared batch.
    private(set) var slotBatches: SlotBatches?
    /// Every active candidate of a pool is at the same epoch: the training steps read the shared batch
    /// (gathered once through that epoch's shuffle) instead of `slotBatches` (the same rows, gathered once
    /// instead of once per candidate).
    var sharesTrainingBatch = false
    /// The per-candidate batches training steps read now: `slotBatches` unless `sharesTrainingBatch`.
    var trainingSlotBatches: SlotBatches? { sharesTrainingBatch ? nil : slotBatches }
    /// The input batch holds the whole training set in order (full-batch training gathers it once, and again
    /// only after an evaluation pass gathered other rows into it).
    var inputHoldsTrainingSet = false
    /// The split whose evaluation sums the last step left in `evalMetrics` (`trainStep`'s `evaluating`), for
    /// `evaluate(split:)` to read.
    var evaluatedInStep: String?
    /// Splits gathered once (padded rows and labels) for the steps that evaluate them.
    var gatheredSplits: [String: (input: DeviceBuffer<Float>, labels: DeviceBuffer<Int32>)] = [:]

    init(device: ComputeDevice, profile: DeviceProfile, gemm: GEMMVariant? = nil, program: ComputeProgram, layout: MLPLayout, popProgram: PopulationProgram,
         members: [Int], initial: [(params: [Float], mirror: [Float])], seeds seedValues: [UInt32],
         optimizer: Optimizer, rowPass: RowPass = .candidates, blockRows: Int = 32, candidateMinimum: Int? = nil,
         slotTapes: Bool = false) throws {
        self.layout = layout
        let spec = layout.spec
        self.spec = spec
        let gemm = gemm ?? GEMMVariant(tile: layout.tile)
        self.gemm = gemm
        forwardKernel = try program.kernel(gemm.kernelName(.forward))
        backwardDataKernel = try program.kernel(gemm.kernelName(.backwardData))
        backwardWeightsKernel = try program.kernel(gemm.kernelName(.backwardWeights))
        lossKernel = try program.kernel("cross_entropy_loss")
        reduceKernel = try program.kernel("metrics_reduce")
        gatherKernel = try program.kernel("mlp_gather")
        gatherSlotsKernel = try program.kernel("mlp_gather_slots")
        layerwiseForwardKernel = try program.kernel("layerwise_forward")
        layerwiseBackwardKernel = try program.kernel("layerwise_backward")
        paramGradsKernel = try program.kernel("mlp_param_grads")
        if case .adam = optimizer { updateKernel = try program.kernel("adam_update") } else { updateKernel = try program.kernel("sgd_update") }

        let P = members.count
        let align = DeviceBuffer<Float>.sliceAlignment / MemoryLayout<Float>.stride
        let sizes = (0..<spec.layerCount).map { P * layout.activationStride(layer: $0) }
        let offsets = sizes.indices.map { l in sizes[..<l].reduce(0) { $0 + ($1 + align - 1) / align * align } }
        let zAll = try device.buffer(Float.self, count: offsets.last! + sizes.last!)
        let aAll = try device.buffer(Float.self, count: offsets.last! + sizes.last!)
        z = try sizes.indices.map { try DeviceBuffer(slicing: zAll, offset: offsets[$0], count: sizes[$0]) }
        a = try sizes.indices.map { try DeviceBuffer(slicing: aAll, offset: offsets[$0], count: sizes[$0]) }
        (self.zAll, self.aAll) = (zAll, aAll)
        let dzCount = P * layout.capacityRows * layout.maxPaddedWidth
        dz = try (0..<2).map { _ in try device.buffer(Float.self, count: dzCount) }
        for b in [zAll, aAll] + dz { try b.fill(0) }
        partials = try device.buffer(Float.self, count: P * layout.partialStride)
        try partials.fill(0)
        partialLayout = try device.buffer(layout.partialLayout.flatMap { [Int32($0.slot), Int32($0.offset), Int32($0.columnTiles)] } + [0])
        layerwiseLayers = Set((0..<spec.layerCount).filter { l in
            spec.slot(ofLayer: l).map { s in members.contains { popProgram.activationIDs[$0][s] <= -2 } } ?? false
        })
        // A slot pool's tapes change as candidates enter (`slotTapes`); a chunk's are the program's.
        let interpreter = popProgram.tapes != nil && slotTapes
            ? try InterpretedActivations(program: program, regionsFor: P, slotCount: spec.slotCount, tile: layout.tile)
            : try InterpretedActivations(program: program, tapes: popProgram.tapes,
                                         offsets: members.map { popProgram.tapeOffsets[$0] },
                                         slotCount: spec.slotCount, tile: layout.tile)
        self.interpreter = interpreter
        interpretedLayers = Set((0..<spec.layerCount).filter { l in
            spec.slot(ofLayer: l).map { interpreter?.slots.contains($0) ?? false } ?? false
        })
        input = try device.buffer(Float.self, count: layout.capacityRows * layout.paddedWidths[0])
        try input.fill(0)
        if rowPass != .layers && profile.fusesRowPasses && Self.fusedRowsAllowed(layout: layout) {
            let pass: RowPass = rowPass == .candidates && P >= (candidateMinimum ?? device.info.computeUnits) ? .candidates : .tiles
            let info = try device.buffer(FusedLayerRow.table((0..<spec.layerCount).map { l in
                FusedLayerRow(weightOffset: layout.weightOffsets[l], inputs: spec.widths[l], outputs: spec.widths[l + 1],
                              mirrorOffset: layout.mirrorOffsets[l], slot: spec.slot(ofLayer: l) ?? -1, activationOffset: offsets[l],
                              partialOffset: spec.slot(ofLayer: l) != nil ? layout.partialLayout[l].offset : 0)
            }))
            let tm = layout.tile.rows
            fused = (try program.kernel(pass == .candidates ? "mlp_train_candidate" : "mlp_train_rows"),
                     interpreter == nil ? try program.kernel(pass == .candidates ? "mlp_eval_candidate" : "mlp_eval_rows") : nil,
                     info, pass, max(tm, (blockRows + tm - 1) / tm * tm))
        } else {
            fused = nil
        }
        try super.init(device: device, initial: initial, seeds: seedValues,
                       activationIDs: members.map { popProgram.activationIDs[$0] },
                       parameterCounts: members.map { popProgram.parameterCounts[$0] }, slots: spec.slotCount,
                       parameterStride: layout.parameterStride, mirrorStride: layout.mirrorStride,
                       updateTable: (0..<spec.layerCount).map { l in
                           UpdateLayerRow(weightOffset: layout.weightOffsets[l], inputs: spec.widths[l],
                                          outputPad: layout.paddedWidths[l + 1], mirrorOffset: layout.mirrorOffsets[l],
                                          outputs: spec.widths[l + 1], mirrorRowStride: layout.paddedWidths[l])
                       },
                       rowCapacity: layout.capacityRows)
        fixedWorkGroups = profile.fixesWorkGroups
        kernelsWithoutCandidates = [gatherKernel]
    }

    /// Per-candidate training batches of up to `rows` rows (`slotBatches`).
    func enableSlotBatches(rows: Int) throws {
        let rowsPad = rowTilesPad(rows), width = layout.paddedWidths[0]
        let x = try device.buffer(Float.self, count: capacity * rowsPad * width)
        let labels = try device.buffer(Int32.self, count: capacity * rowsPad)
        try x.fill(0)
        try labels.fill(0)
        slotBatches = SlotBatches(input: x, labels: labels, rowsPad: rowsPad, inputStride: rowsPad * width,
                                  orderAt: try device.buffer(Int32.self, count: capacity))
    }

    /// Gathers each active candidate's rows `start ..< start + rows` of the training split through its own
    /// order: `orders` holds shuffles, candidate c's starting at `orderAt[c]` (uploaded by `setOrders`).
    func gatherSlots(start: Int, rows: Int, orders: DeviceBuffer<Int32>) throws {
        guard let sb = slotBatches else { preconditionFailure("gatherSlots without enableSlotBatches") }
        let s = splits["train"]!
        try launch(gatherSlotsKernel, global: [rowTilesPad(rows), count], named: [
            "x": s.x, "features": Int32(spec.inputCount), "labels": s.labels, "orders": orders, "order_at": sb.orderAt,
            "start": Int32(start), "rows": Int32(rows), "dst": sb.input, "dst_stride": Int32(layout.paddedWidths[0]),
            "dst_cstride": Int32(sb.inputStride), "dst_labels": sb.labels, "label_cstride": Int32(sb.rowsPad),
            "status": status])
    }

    func rowTilesPad(_ rows: Int) -> Int { rows.roundedUp(toMultipleOf: layout.tile.rows) }

    /// Copies rows of a split into the shared input batch (through `order` when given).
    func gather(split name: String, start: Int, rows: Int, useOrder: Bool) throws {
        let s = splits[name]!
        inputHoldsTrainingSet = name == "train" && start == 0 && rows == s.rows && !useOrder
        try gather(s, start: start, rows: rows, order: useOrder ? order ?? batchLabels : nil, into: input, labels: batchLabels)
    }

    /// Copies `rows` rows of `split` from `start` (through `order` when given) into `destination` (padded rows,
    /// zeros past `rows` up to a whole row tile) and their labels into `labels`.
    func gather(_ split: (x: DeviceBuffer<Float>, labels: DeviceBuffer<Int32>, rows: Int), start: Int, rows: Int,
                order: DeviceBuffer<Int32>?, into destination: DeviceBuffer<Float>, labels: DeviceBuffer<Int32>) throws {
        try launch(gatherKernel, global: [rowTilesPad(rows)], split.x, Int32(spec.inputCount), split.labels,
                   order ?? labels, Int32(order != nil ? 1 : 0), Int32(start), Int32(rows),
                   destination, Int32(layout.paddedWidths[0]), labels)
    }

    /// Forward pass of every layer over the current input batch. Evaluation writes A over Z (z == a); Z is
    /// kept only for element-wise slots in training, so layer-wise rows work in place on A (which holds Z).
    func forward(rows: Int, training: Bool, pass: UInt32, rowOffset: Int) throws {
        let rowsPad = rowTilesPad(rows), tile = layout.tile
        for l in 0..<spec.layerCount {
            let (ain, ainC, inStride) = inputOf(layer: l, training: training)
            let out = layout.paddedWidths[l + 1]
            let zl = training ? z[l] : a[l]
            let shape = gemm.launchShape(columnTiles: out / tile.columns, rowTiles: rowsPad / tile.rows, candidates: count)
            try launch(forwardKernel, global: shape.global, local: shape.local, named: [
                "ain": ain, "ain_cstride": Int32(ainC), "in_stride": Int32(inStride), "k_in": Int32(spec.widths[l]),
                "params": params, "pstride": Int32(layout.parameterStride), "woff": Int32(layout.weightOffsets[l]),
                "out_pad": Int32(out), "out_n": Int32(spec.widths[l + 1]), "z": zl, "a": a[l],
                "out_cstride": Int32(layout.activationStride(layer: l)), "rows": Int32(rows), "act_id": activationIDs,
                "slot": Int32(spec.slot(ofLayer: l) ?? -1), "slots": Int32(slots),
                "aoff": Int32(layout.activationParameterOffset), "seeds": seeds, "pass": pass,
                "training": Int32(training ? 1 : 0), "layer": Int32(l), "row_offset": Int32(rowOffset),
                "status": status, "skip_frozen": skipFrozen(training)])
            if layerwiseLayers.contains(l) {
                try launch(layerwiseForwardKernel, global: [rowsPad, count], named: [
                    "z": a[l], "a": a[l], "stride": Int32(out), "cstride": Int32(layout.activationStride(layer: l)),
                    "width": Int32(spec.widths[l + 1]), "rows": Int32(rows), "act_id": activationIDs,
                    "slot": Int32(spec.slot(ofLayer: l)!), "slots": Int32(slots), "seeds": seeds, "pass": pass,
                    "layer": Int32(l), "row_offset": Int32(rowOffset), "status": status,
                    "skip_frozen": skipFrozen(training)])
            }
            if let ip = interpreter, interpretedLayers.contains(l) {
                note(try ip.forward(a: a[l], z: zl, stride: out, candidateStride: Int32(layout.activationStride(layer: l)),
                                    cols: spec.widths[l + 1], rows: rows, candidates: count, slot: spec.slot(ofLayer: l)!,
                                    layer: l, rowOffset: rowOffset, training: training, seeds: seeds, pass: pass, status: status))
            }
        }
    }

    /// dL/dZ = dL/dA · f'(Z) in place in `g` for the candidates whose slot of `layer` is interpreted.
    private func interpretedBackward(layer l: Int, g: DeviceBuffer<Float>, rows: Int, pass: UInt32) throws {
        guard let ip = interpreter, interpretedLayers.contains(l) else { return }
        note(try ip.backward(g: g, z: z[l], stride: layout.paddedWidths[l + 1],
                             candidateStride: Int32(layout.activationStride(layer: l)), cols: spec.widths[l + 1], rows: rows,
                             candidates: count, slot: spec.slot(ofLayer: l)!, layer: l, seeds: seeds, pass: pass, status: status))
    }

    /// The activations feeding layer `l`: buffer, candidate stride, row stride.
    private func inputOf(layer l: Int, training: Bool) -> (DeviceBuffer<Float>, Int, Int) {
        guard l == 0 else { return (a[l - 1], layout.activationStride(layer: l - 1), layout.paddedWidths[l]) }
        if training, let sb = trainingSlotBatches { return (sb.input, sb.inputStride, layout.paddedWidths[0]) }
        return (input, 0, layout.paddedWidths[0])
    }

    /// The labels of the batch a pass reads, and their candidate stride.
    func labelsRead(training: Bool) -> (DeviceBuffer<Int32>, Int) {
        if training, let sb = trainingSlotBatches { return (sb.labels, sb.rowsPad) }
        return (batchLabels, 0)
    }

    /// Per-row losses and hits of the current batch, summed into `metrics`; in training also dZ of the
    /// last layer and the divergence check.
    func loss(rows: Int, training: Bool, pass: UInt32, metrics: DeviceBuffer<Float>) throws {
        let rowsPad = rowTilesPad(rows), L = spec.layerCount - 1
        let slot = spec.slot(ofLayer: L)
        let partOff = slot != nil ? layout.partialLayout[L].offset : 0
        let (labels, labelStride) = labelsRead(training: training)
        try launch(lossKernel, global: [rowsPad, count], named: [
            "logits": a[L], "zlast": z[L], "stride": Int32(layout.paddedWidths[L + 1]),
            "cstride": Int32(layout.activationStride(layer: L)), "classes": Int32(spec.classCount),
            "rows": Int32(rows), "labels": labels, "label_cstride": Int32(labelStride), "inv_rows": Float(1.0 / Double(rows)), "row_loss": rowLoss,
            "row_hit": rowHit, "rows_cap": Int32(layout.capacityRows), "training": Int32(training ? 1 : 0),
            "dz": dz[L % 2], "params": params, "pstride": Int32(layout.parameterStride),
            "aoff": Int32(layout.activationParameterOffset), "act_id": activationIDs, "act_nparams": parameterCounts,
            "slot": Int32(slot ?? -1), "slots": Int32(slots), "partials": partials,
            "part_cstride": Int32(layout.partialStride), "part_off": Int32(partOff), "seeds": seeds, "pass": pass,
            "layer": Int32(L), "status": status, "skip_frozen": skipFrozen(training), "slopes": Int32(1)])
        try launch(reduceKernel, global: [count], rowLoss, rowHit, Int32(layout.capacityRows), Int32(rows),
                                metrics, Int32(training ? 1 : 0), status)
        if training { try interpretedBackward(layer: L, g: dz[L % 2], rows: rows, pass: pass) }
    }

    /// Gradients of every layer from dZ of the last one (left by `loss`), then the optimiser step.
    func backwardAndUpdate(rows: Int, pass: UInt32, step: Int, config: TrainingConfig) throws {
        let rowsPad = rowTilesPad(rows), tile = layout.tile
        for l in stride(from: spec.layerCount - 1, through: 0, by: -1) {
            let outPad = layout.paddedWidths[l + 1]
            let dzC = layout.capacityRows * outPad
            try weightGradients(layer: l, dz: dz[l % 2], dzCandidateStride: dzC, rows: rows)
            guard l > 0 else { continue }
            let inPad = layout.paddedWidths[l]
            let prevSlot = spec.slot(ofLayer: l - 1)
            let shape = gemm.launchShape(columnTiles: inPad / tile.columns, rowTiles: rowsPad / tile.rows, candidates: count)
            try launch(backwardDataKernel, global: shape.global, local: shape.local, named: [
                "dz": dz[l % 2], "dz_stride": Int32(outPad), "dz_cstride": Int32(dzC),
                "out_n": Int32(spec.widths[l + 1]), "mirror": mirror, "mstride": Int32(layout.mirrorStride),
                "moff": Int32(layout.mirrorOffsets[l]), "in_pad": Int32(inPad), "in_n": Int32(spec.widths[l]),
                "zprev": z[l - 1], "dzprev": dz[(l - 1) % 2],
                "prev_cstride": Int32(layout.activationStride(layer: l - 1)), "rows": Int32(rows), "params": params,
                "pstride": Int32(layout.parameterStride), "aoff": Int32(layout.activationParameterOffset),
                "act_id": activationIDs, "act_nparams": parameterCounts, "slot": Int32(prevSlot ?? -1),
                "slots": Int32(slots), "partials": partials, "part_cstride": Int32(layout.partialStride),
                "part_off": Int32(prevSlot != nil ? layout.partialLayout[l - 1].offset : 0), "seeds": seeds,
                "pass": pass, "layer_prev": Int32(l - 1), "status": status])
            if layerwiseLayers.contains(l - 1) {
                try launch(layerwiseBackwardKernel,
                    global: [rowsPad, count],
                    a[l - 1], dz[(l - 1) % 2], Int32(inPad), Int32(layout.activationStride(layer: l - 1)),
                    Int32(spec.widths[l]), Int32(rows), activationIDs, Int32(prevSlot!), Int32(slots), status)
            }
            try interpretedBackward(layer: l - 1, g: dz[(l - 1) % 2], rows: rows, pass: pass)
        }
        try parameterGradients(rows: rows)
        try optimizerStep(step: step, config: config)
    }

    /// The learnable activation parameters' gradients from the partials the step left (none without them).
    func parameterGradients(rows: Int) throws {
        guard layout.kmax > 0 else { return }
        let rowsPad = rowTilesPad(rows)
        try launch(paramGradsKernel,
            global: [slots * layout.kmax, count],
            partials, Int32(layout.partialStride), partialLayout, Int32(layout.partialLayout.count),
            Int32(rowsPad / layout.tile.rows), Int32(rowsPad), grads, Int32(layout.parameterStride),
            Int32(layout.activationParameterOffset), status)
    }

    /// dW and db of layer `l` from its input activations and `dz` (rows × the layer's padded width).
    func weightGradients(layer l: Int, dz: DeviceBuffer<Float>, dzCandidateStride: Int, rows: Int) throws {
        let (ain, ainC, inStride) = inputOf(layer: l, training: true)
        let outPad = layout.paddedWidths[l + 1], tile = layout.tile
        let shape = gemm.launchShape(columnTiles: outPad / tile.columns, rowTiles: (spec.widths[l] + tile.rows - 1) / tile.rows,
                                     candidates: count)
        try launch(backwardWeightsKernel, global: shape.global, local: shape.local, named: [
            "ain": ain, "ain_cstride": Int32(ainC), "in_stride": Int32(inStride), "in_n": Int32(spec.widths[l]),
            "dz": dz, "dz_cstride": Int32(dzCandidateStride), "out_pad": Int32(outPad),
            "out_n": Int32(spec.widths[l + 1]), "rows": Int32(rows), "grads": grads,
            "pstride": Int32(layout.parameterStride), "woff": Int32(layout.weightOffsets[l]), "status": status])
    }

    /// Adam or SGD over every parameter of every active candidate. `step`: every candidate's own optimiser
    /// step (from 0), unless `slotSteps` gives one per slot (a pool whose slots were refilled at other times).
    func optimizerStep(step: Int, config: TrainingConfig) throws {
        let steps = candidateSteps(step)
        switch config.optimizer {
        case .adam(let b1, let b2, let eps):
            try uploadStepArguments(steps: steps, config: config)
            try launch(updateKernel, global: [parameterStride, count], named: [
                "params": params, "grads": grads, "m1": moment1, "m2": moment2, "mirror": mirror,
                "pstride": Int32(parameterStride), "mstride": Int32(mirrorStride), "wlayout": updateLayout,
                "layers": Int32(updateLayers), "step_args": stepArgs, "b1": Float(b1), "b2": Float(b2), "eps": Float(eps),
                "status": status])
        case .sgd(let momentum):
            try sgdStep(updateKernel, steps: steps, config: config, momentum: momentum)
        }
    }

    /// `PopulationSession`: gathers the batch (full batch: only when an evaluation pass took the input batch)
    /// and steps.
    func trainBatch(start: Int, rows: Int, shuffled: Bool, step: Int, config: TrainingConfig) throws {
        if shuffled || !inputHoldsTrainingSet { try gather(split: "train", start: start, rows: rows, useOrder: shuffled) }
        try trainStep(rows: rows, pass: UInt32(truncatingIfNeeded: step), step: step, config: config)
    }

    func unpack(_ slice: ArraySlice<Float>, parameterCounts: [Int]) -> (weights: LinearStackWeights, activationParameters: [[Float]]) {
        layout.unpackWeights(slice, parameterCounts: parameterCounts)
    }

    /// Evaluation-mode loss sums and hits of every candidate on a split, in blocks of the row capacity: one
    /// fused launch a block where the training step is fused (`evaluateFused`), else the per-layer launches.
    func evaluate(split name: String) throws -> [(lossSum: Double, hits: Double)] {
        if evaluatedInStep == name {
            evaluatedInStep = nil
            return try metricSums(evalMetrics)
        }
        let rows = splits[name]!.rows
        try evalMetrics.fill(0)
        for start in stride(from: 0, to: rows, by: layout.capacityRows) {
            let n = min(layout.capacityRows, rows - start)
            try gather(split: name, start: start, rows: n, useOrder: false)
            if try !evaluateFused(rows: n, rowOffset: start, skipFrozen: skipFrozen(false), metrics: evalMetrics) {
                try forward(rows: n, training: false, pass: NoiseKey.evaluationPass, rowOffset: start)
                try loss(rows: n, training: false, pass: NoiseKey.evaluationPass, metrics: evalMetrics)
            }
        }
        return try metricSums(evalMetrics)
    }
}

/// A slot pool's per-candidate training batches (`TrainingSession.enableSlotBatches`): candidate c's rows at
/// `input` + c · `inputStride`, its labels at `labels` + c · `rowsPad`, its order's start in the pool's
/// shuffle table at `orderAt[c]`.
struct SlotBatches {
    let input: DeviceBuffer<Float>
    let labels: DeviceBuffer<Int32>
    let rowsPad: Int
    let inputStride: Int
    let orderAt: DeviceBuffer<Int32>
}
