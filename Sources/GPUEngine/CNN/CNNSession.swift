import Foundation
import Datasets
import Kernels

/// One chunk of a CNN population on the device: its buffers and the launches of a micro-batch's forward
/// pass, loss, backward pass and the optimiser step. Linear layers, the loss, the metric reduction and
/// Adam/SGD are the MLP trainer's kernels (mlp_gemm.cl, mlp_rows.cl, adam_update.cl); convolution,
/// pooling and dropout are cnn_layers.cl. The GEMMs (convolutions, Linear layers) run `gemm`'s kernels: the
/// unstaged ones of cnn_conv.cl and cnn_linear.cl, or their staged forms (cnn_conv_staged.cl).
final class CNNSession: PopulationState, PopulationSession {
    let plan: CNNPlan
    /// Which GEMM kernels run and in what launch shapes (`GEMMVariant`; its tile is `plan.tile`).
    let gemm: GEMMVariant

    let convForward, convBackwardWeights, convBackwardData, poolForward, poolBackward: ComputeKernel
    let dropoutKernel, actBackward, accumulate, gatherKernel, gatherSlotsKernel: ComputeKernel
    let linearForward, linearBackwardData, linearBackwardWeights, lossKernel, reduceKernel, updateKernel: ComputeKernel
    let mirrorTranspose, layerwiseForward, layerwiseBackward, paramGrads, inputDropout: ComputeKernel

    /// Gradients of the later micro-batches of a step, added into `grads` (allocated only when needed).
    let scratch: DeviceBuffer<Float>?
    /// Per tensor (index 0 = the input batch: shared, and in a slot pool also each candidate's own, see
    /// `slotBatches`): values, pre-activations, gradients, pool argmax.
    let a: [DeviceBuffer<Float>]
    let z: [DeviceBuffer<Float>?]
    let g: [DeviceBuffer<Float>?]
    let arg: [DeviceBuffer<UInt8>?]
    /// Tensors a dropout works on: their producer's activation derivative cannot be fused upstream.
    let droppedTensors: Set<Int>
    /// Slots where some candidate has learnable parameters (their derivative is never fused: the
    /// parameter partials come from cnn_act_backward or the loss kernel), slots where some candidate
    /// has a layer-wise function (Linear layers only; finished by layerwise_backward), and slots some
    /// candidate runs through the interpreter (their GEMMs and fused derivatives see the identity). A slot
    /// pool sets them as candidates enter (`setActivationRows`).
    private(set) var parameterSlots: Set<Int> = []
    private(set) var layerwiseSlots: Set<Int> = []
    private(set) var interpretedSlots: Set<Int> = []
    /// With learnable parameters: per-row partials of every layer activated by a parameter slot
    /// (`partialOffsets` by tensor, a subset of `partialRegions`), their layout for cnn_param_grads, and a
    /// sink for the per-row partials the loss kernel writes when the logits' slot has none.
    let partials, partialSink: DeviceBuffer<Float>
    let partialStride, sinkStride: Int
    /// Where each tensor's partials live: the tensors of parameter slots (a chunk), or of every activated
    /// tensor (a slot pool whose program has learnable parameters: which slots have them changes).
    private let partialRegions: [Int: Int]
    private(set) var partialOffsets: [Int: Int] = [:]
    let partialLayout: DeviceBuffer<Int32>
    /// Interpreted activations (`ActivationExecution.interpreted`): the interpreter's kernels and tapes.
    let interpreter: InterpretedActivations?
    /// A mini-batch slot pool's per-candidate training batches (`gatherSlots`): candidate c's images in `a[0]` at
    /// c · `tensorFloats(0)`, its labels at c · `capacityImages`, its order's start in the pool's shuffle table
    /// at `orderAt[c]`; nil: the input batch is shared.
    let slotBatches: (labels: DeviceBuffer<Int32>, orderAt: DeviceBuffer<Int32>)?
    /// The training steps read the candidates' own batches (`slotBatches`) rather than the shared one.
    var readsSlotBatches = false

    init(device: ComputeDevice, profile: DeviceProfile, gemm: GEMMVariant? = nil, program: ComputeProgram, plan: CNNPlan,
         activationIDs ids: [[Int32]],
         parameterCounts counts: [[Int]], initial: [(params: [Float], mirror: [Float])], seeds seedValues: [UInt32],
         optimizer: Optimizer, needsAccumulation: Bool, tapes: PackedTapes? = nil, tapeOffsets: [[Int32]] = [],
         pool: Bool = false, slotBatches ownBatches: Bool = false) throws {
        self.plan = plan
        let gemm = gemm ?? GEMMVariant(tile: plan.tile)
        self.gemm = gemm
        convForward = try program.kernel(gemm.kernelName(unstaged: "cnn_conv_forward"))
        convBackwardWeights = try program.kernel(gemm.kernelName(unstaged: "cnn_conv_backward_weights"))
        convBackwardData = try program.kernel(gemm.kernelName(unstaged: "cnn_conv_backward_data"))
        poolForward = try program.kernel("cnn_pool_forward")
        poolBackward = try program.kernel("cnn_pool_backward")
        dropoutKernel = try program.kernel("cnn_dropout")
        actBackward = try program.kernel("cnn_act_backward")
        accumulate = try program.kernel("cnn_grad_accumulate")
        gatherKernel = try program.kernel("cnn_gather_images")
        gatherSlotsKernel = try program.kernel("cnn_gather_slots")
        linearForward = try program.kernel(gemm.kernelName(unstaged: "cnn_linear_forward"))
        linearBackwardData = try program.kernel(gemm.kernelName(unstaged: "cnn_linear_backward_data"))
        linearBackwardWeights = try program.kernel(gemm.kernelName(.backwardWeights))
        lossKernel = try program.kernel("cross_entropy_loss")
        reduceKernel = try program.kernel("metrics_reduce")
        if case .adam = optimizer { updateKernel = try program.kernel("cnn_adam_update") } else { updateKernel = try program.kernel("sgd_update") }
        mirrorTranspose = try program.kernel("cnn_mirror_transpose")
        layerwiseForward = try program.kernel("layerwise_forward")
        layerwiseBackward = try program.kernel("layerwise_backward")
        paramGrads = try program.kernel("cnn_param_grads")
        inputDropout = try program.kernel("cnn_input_dropout")

        let P = initial.count, ps = plan.parameterStride
        scratch = needsAccumulation ? try device.buffer(Float.self, count: P * ps) : nil
        try scratch?.fill(0)
        var a: [DeviceBuffer<Float>] = [], z: [DeviceBuffer<Float>?] = [], g: [DeviceBuffer<Float>?] = []
        var arg: [DeviceBuffer<UInt8>?] = []
        a.append(try device.buffer(Float.self, count: (ownBatches ? P : 1) * plan.tensorFloats(0)))
        try a[0].fill(0)
        slotBatches = ownBatches ? (try device.buffer(Int32.self, count: P * plan.capacityImages), try device.buffer(Int32.self, count: P)) : nil
        try slotBatches?.labels.fill(0)
        z.append(nil); g.append(nil); arg.append(nil)
        for t in 1..<plan.tensors.count {
            let n = P * plan.tensorFloats(t)
            a.append(try device.buffer(Float.self, count: n))
            z.append(plan.tensors[t].activatedBy != nil ? try device.buffer(Float.self, count: n) : nil)
            g.append(try device.buffer(Float.self, count: n))
            arg.append(plan.tensors[t].fromPool ? try device.buffer(UInt8.self, count: n) : nil)
            for b in [a[t], z[t], g[t]].compactMap({ $0 }) { try b.fill(0) }
            try arg[t]?.fill(0)
        }
        self.a = a; self.z = z; self.g = g; self.arg = arg
        let cap = plan.capacityImages
        var dropped = Set<Int>()
        for case .dropout(let t, _, _) in plan.stages { dropped.insert(t) }
        droppedTensors = dropped
        let slotCount = plan.architecture.slotCount
        let chunkParameterSlots = Set((0..<slotCount).filter { s in counts.contains { $0[s] > 0 } })
        // One partial per row (pixel or image) and parameter for each tensor activated by a parameter slot.
        var regions: [Int: Int] = [:], off = 0
        for (t, tensor) in plan.tensors.enumerated() {
            guard let act = tensor.activatedBy, pool ? plan.kmax > 0 : chunkParameterSlots.contains(act.slot) else { continue }
            regions[t] = off
            off += (cap * tensor.pixels).roundedUp(toMultipleOf: plan.tile.rows) * plan.kmax
        }
        partialRegions = regions
        partialStride = max(off, 1)
        sinkStride = max(cap.roundedUp(toMultipleOf: plan.tile.rows) * plan.kmax, 1)
        partials = try device.buffer(Float.self, count: plan.kmax > 0 ? P * partialStride : 1)
        partialSink = try device.buffer(Float.self, count: plan.kmax > 0 ? P * sinkStride : 1)
        partialLayout = try device.buffer(Int32.self, count: 3 * regions.count + 1)
        // A slot pool's tapes change as candidates enter; a chunk's are the program's.
        interpreter = tapes != nil && pool
            ? try InterpretedActivations(program: program, regionsFor: P, slotCount: slotCount, tile: plan.tile)
            : try InterpretedActivations(program: program, tapes: tapes, offsets: tapeOffsets, slotCount: slotCount, tile: plan.tile)
        try super.init(device: device, initial: initial, seeds: seedValues, activationIDs: ids, parameterCounts: counts,
                       slots: slotCount, parameterStride: ps, mirrorStride: plan.mirrorStride,
                       updateTable: plan.updateTable, rowCapacity: cap)
        try setActivationRows(ids: ids, counts: counts, interpreted: interpreter?.slots ?? [])
        fixedWorkGroups = profile.fixesWorkGroups
        kernelsWithoutCandidates = [gatherKernel]
    }

    /// The slots the launches treat specially, from the activation rows of the candidates they run (and the
    /// slots some of them interpret): learnable parameters, layer-wise functions. A slot pool calls it as
    /// candidates enter.
    func setActivationRows(ids: [[Int32]], counts: [[Int]], interpreted: Set<Int>) throws {
        let slotCount = plan.architecture.slotCount
        let parameters = Set((0..<slotCount).filter { s in counts.contains { $0[s] > 0 } })
        layerwiseSlots = Set((0..<slotCount).filter { s in ids.contains { $0[s] <= -2 } })
        interpretedSlots = interpreted
        guard parameters != parameterSlots else { return }
        parameterSlots = parameters
        partialOffsets = partialRegions.filter { t, _ in plan.tensors[t].activatedBy.map { parameters.contains($0.slot) } ?? false }
        let layout = partialOffsets.keys.sorted().flatMap { t -> [Int32] in
            [Int32(plan.tensors[t].activatedBy!.slot), Int32(partialOffsets[t]!), Int32(plan.tensors[t].pixels)]
        }
        try partialLayout.upload(layout + [0])
    }

    /// A = f(Z) (and Z kept in training) for the interpreted candidates of the activated tensor `t`, which
    /// its producer (conv or Linear, run with the identity for them) holds in A.
    private func interpretForward(tensor t: Int, images: Int, training: Bool, pass: UInt32) throws {
        let tt = plan.tensors[t]
        guard let ip = interpreter, let act = tt.activatedBy, interpretedSlots.contains(act.slot) else { return }
        note(try ip.forward(a: a[t], z: training ? z[t]! : a[t], stride: tt.channelStride, candidateStride: cand(t), cols: tt.channels,
                       rows: images * tt.pixels, candidates: count, slot: act.slot, layer: act.layer, rowOffset: 0,
                       training: training, seeds: seeds, pass: pass, status: status))
    }

    /// dL/dZ = dL/dA · f'(Z) in place in g[t] for the interpreted candidates of the activated tensor `t`.
    private func interpretBackward(tensor t: Int, images: Int, pass: UInt32) throws {
        let tt = plan.tensors[t]
        guard let ip = interpreter, let act = tt.activatedBy, interpretedSlots.contains(act.slot) else { return }
        note(try ip.backward(g: g[t]!, z: z[t]!, stride: tt.channelStride, candidateStride: cand(t), cols: tt.channels,
                        rows: images * tt.pixels, candidates: count, slot: act.slot, layer: act.layer, seeds: seeds, pass: pass,
                        status: status))
    }

    /// Row tiles one work-item of a Linear layer walks: all of them, unless that leaves fewer than 64
    /// work-items to spread over the device's cores; one under a staged variant.
    private func tilesPerItem(rowTiles: Int, columnTiles: Int) -> Int {
        guard gemm.staging == nil else { return 1 }
        let groups = min(rowTiles, max(1, (64 + columnTiles * count - 1) / (columnTiles * count)))
        return (rowTiles + groups - 1) / groups
    }

    /// The launch shape of a GEMM of `columnTiles` × `rowTiles` register tiles per candidate whose work-items
    /// take `perItem` row tiles each (the unstaged Linear kernels; 1 under a staged variant).
    private func gemmShape(columnTiles: Int, rowTiles: Int, perItem: Int = 1) -> (global: [Int], local: [Int]?) {
        gemm.launchShape(columnTiles: columnTiles, rowTiles: (rowTiles + perItem - 1) / perItem, candidates: count)
    }

    private func pad(_ n: Int) -> Int { n.roundedUp(toMultipleOf: plan.tile.rows) }
    private var tn: Int { plan.tile.columns }
    private func cand(_ t: Int) -> Int32 { t > 0 || readsSlotBatches ? Int32(plan.tensorFloats(t)) : 0 }

    /// Copies `images` rows of a split (through `order` when given) into the input batch as H×W×C.
    func gather(split name: String, start: Int, images: Int, useOrder: Bool) throws {
        let s = splits[name]!, shape = plan.inputShape
        try launch(gatherKernel, global: [plan.capacityImages],
                                s.x, Int32(shape[0]), Int32(shape[1]), Int32(shape[2]), s.labels,
                                order ?? batchLabels, Int32(useOrder ? 1 : 0), Int32(start), Int32(images), a[0], batchLabels)
    }

    /// Gathers each active candidate's images `start ..< start + images` of the training split through its own
    /// order into its own batch (`slotBatches`): `orders` holds shuffles, candidate c's from `orderAt[c]`.
    func gatherSlots(start: Int, images: Int, orders: DeviceBuffer<Int32>) throws {
        guard let sb = slotBatches else { preconditionFailure("gatherSlots without a pool's slot batches") }
        let s = splits["train"]!, shape = plan.inputShape
        try launch(gatherSlotsKernel, global: [plan.capacityImages, count], named: [
            "x": s.x, "C": Int32(shape[0]), "H": Int32(shape[1]), "W": Int32(shape[2]), "labels": s.labels,
            "orders": orders, "order_at": sb.orderAt, "start": Int32(start), "rows": Int32(images), "dst": a[0],
            "dst_cand": Int32(plan.tensorFloats(0)), "dst_labels": sb.labels, "label_cand": Int32(plan.capacityImages),
            "status": status])
    }

    /// The forward pass of the current input batch; evaluation (training false) keeps no pre-activations
    /// and applies no dropout.
    func forward(images: Int, training: Bool, pass: UInt32) throws {
        let P = count, t = plan.tile, train = Int32(training ? 1 : 0)
        for stage in plan.stages {
            switch stage {
            case .conv(let pl):
                let tin = plan.tensors[pl.input], tout = plan.tensors[pl.output], cv = pl.conv!
                let rows = images * tout.pixels
                let zb = training && z[pl.output] != nil ? z[pl.output]! : a[pl.output]
                let shape = gemmShape(columnTiles: pl.outPad / tn, rowTiles: pad(rows) / t.rows)
                try launch(convForward, global: shape.global, local: shape.local, named: [
                    "in": a[pl.input], "in_cand": cand(pl.input), "in_cs": Int32(tin.channelStride),
                    "IC": Int32(cv.inChannels), "IH": Int32(tin.height), "IW": Int32(tin.width), "KH": Int32(cv.kh),
                    "KW": Int32(cv.kw), "pad": Int32(cv.pad), "OH": Int32(tout.height), "OW": Int32(tout.width),
                    "params": params, "pstride": Int32(plan.parameterStride), "woff": Int32(pl.weightOffset),
                    "out_pad": Int32(pl.outPad), "OC": Int32(pl.outputs), "z": zb, "a": a[pl.output],
                    "out_cand": cand(pl.output), "rows": Int32(rows), "act_id": activationIDs,
                    "slot": Int32(pl.slot ?? -1), "slots": Int32(slots), "seeds": seeds, "pass": pass,
                    "training": train, "layer": Int32(pl.layer), "status": status, "skip_frozen": skipFrozen(training),
                    "aoff": Int32(plan.activationOffset)])
                try interpretForward(tensor: pl.output, images: images, training: training, pass: pass)
            case .linear(let pl):
                let tin = plan.tensors[pl.input]
                let zb = training && z[pl.output] != nil ? z[pl.output]! : a[pl.output]
                let rowTiles = pad(images) / t.rows, per = tilesPerItem(rowTiles: rowTiles, columnTiles: pl.outPad / tn)
                let shape = gemmShape(columnTiles: pl.outPad / tn, rowTiles: rowTiles, perItem: per)
                try launch(linearForward, global: shape.global, local: shape.local, named: [
                    "ain": a[pl.input], "ain_cstride": cand(pl.input),
                    "in_stride": Int32(tin.pixels == 1 ? tin.channelStride : tin.imageFloats), "k_in": Int32(pl.k),
                    "params": params, "pstride": Int32(plan.parameterStride), "woff": Int32(pl.weightOffset),
                    "out_pad": Int32(pl.outPad), "out_n": Int32(pl.outputs), "z": zb, "a": a[pl.output],
                    "out_cstride": cand(pl.output), "rows": Int32(images), "act_id": activationIDs,
                    "slot": Int32(pl.slot ?? -1), "slots": Int32(slots), "aoff": Int32(plan.activationOffset),
                    "seeds": seeds, "pass": pass, "training": train, "layer": Int32(pl.layer), "status": status,
                    "skip_frozen": skipFrozen(training), "row_tiles": Int32(rowTiles), "tiles_per_item": Int32(per)])
                try interpretForward(tensor: pl.output, images: images, training: training, pass: pass)
                if let slot = pl.slot, layerwiseSlots.contains(slot) {
                    // The GEMM left A = Z for these candidates; the row kernel applies the function in place.
                    try launch(layerwiseForward, global: [pad(images), P], named: [
                        "z": a[pl.output], "a": a[pl.output], "stride": Int32(pl.outPad), "cstride": cand(pl.output),
                        "width": Int32(pl.outputs), "rows": Int32(images), "act_id": activationIDs,
                        "slot": Int32(slot), "slots": Int32(slots), "seeds": seeds, "pass": pass,
                        "layer": Int32(pl.layer), "row_offset": Int32(0), "status": status, "skip_frozen": skipFrozen(training)])
                }
            case .pool(let input, let output, _):
                let tin = plan.tensors[input], tout = plan.tensors[output]
                try launch(poolForward, global: [pad(images) * tout.pixels, P], named: [
                    "in": a[input], "out": a[output], "arg": arg[output]!, "cand": cand(input),
                    "out_cand": cand(output), "cs": Int32(tin.channelStride), "C": Int32(tin.channels),
                    "H": Int32(tin.height), "W": Int32(tin.width), "images": Int32(images), "status": status,
                    "skip_frozen": skipFrozen(training)])
            case .dropout(let tensor, let rate, let layer):
                guard training else { continue }
                try dropout(a[tensor], tensor: tensor, rate: rate, layer: layer, images: images, pass: pass, skipFrozen: true)
            case .inputDropout(let output, let rate, let layer):
                let tt = plan.tensors[output]
                try launch(inputDropout, global: [plan.capacityImages, P], named: [
                    "x": a[0], "x_cand": cand(0), "out": a[output], "cand": cand(output), "C": Int32(tt.channels), "H": Int32(tt.height),
                    "W": Int32(tt.width), "rate": Float(rate), "scale": Float(1 / (1 - rate)), "seeds": seeds,
                    "pass": pass, "layer": Int32(layer), "training": train, "status": status, "skip_frozen": skipFrozen(training)])
            }
        }
    }

    private func dropout(_ buffer: DeviceBuffer<Float>, tensor: Int, rate: Double, layer: Int, images: Int, pass: UInt32, skipFrozen: Bool) throws {
        let tt = plan.tensors[tensor]
        try launch(dropoutKernel, global: [images, count], named: [
            "buf": buffer, "cand": cand(tensor), "cs": Int32(tt.channelStride), "C": Int32(tt.channels),
            "H": Int32(tt.height), "W": Int32(tt.width), "images": Int32(images), "rate": Float(rate),
            "scale": Float(1 / (1 - rate)), "seeds": seeds, "pass": pass, "layer": Int32(layer), "status": status,
            "skip_frozen": Int32(skipFrozen ? 1 : 0)])
    }

    /// Row losses and hits of the batch summed into `metrics`; in training also dZ of the logits for the
    /// loss averaged over `batchImages` (the whole optimiser batch, not the micro-batch).
    func loss(images: Int, batchImages: Int, training: Bool, pass: UInt32, metrics: DeviceBuffer<Float>) throws {
        let L = plan.logits, last = plan.parameterLayers.last!
        let zlast = z[L] ?? a[L]
        let logitPartials = training ? partialOffsets[L] : nil
        try launch(lossKernel, global: [pad(images), count], named: [
            "logits": a[L], "zlast": zlast, "stride": Int32(last.outPad), "cstride": cand(L),
            "classes": Int32(last.outputs), "rows": Int32(images),
            "labels": readsSlotBatches ? slotBatches!.labels : batchLabels,
            "label_cstride": Int32(readsSlotBatches ? plan.capacityImages : 0),
            "inv_rows": Float(1.0 / Double(batchImages)), "row_loss": rowLoss, "row_hit": rowHit,
            "rows_cap": Int32(plan.capacityImages), "training": Int32(training ? 1 : 0), "dz": g[L]!, "params": params,
            "pstride": Int32(plan.parameterStride), "aoff": Int32(plan.activationOffset), "act_id": activationIDs,
            "act_nparams": parameterCounts, "slot": Int32(last.slot ?? -1), "slots": Int32(slots),
            "partials": logitPartials != nil ? partials : partialSink,
            "part_cstride": Int32(logitPartials != nil ? partialStride : sinkStride),
            "part_off": Int32(logitPartials ?? 0), "seeds": seeds, "pass": pass, "layer": Int32(last.layer),
            "status": status, "skip_frozen": skipFrozen(training), "slopes": Int32(0)])
        try launch(reduceKernel, global: [count], rowLoss, rowHit, Int32(plan.capacityImages), Int32(images),
                                metrics, Int32(training ? 1 : 0), status)
        if training { try interpretBackward(tensor: L, images: images, pass: pass) }
    }

    /// Gradients of every parameter for the current micro-batch (dZ of the logits left by `loss`), into
    /// `grads` for the first micro-batch of a step and added to it for the others.
    func backward(images: Int, pass: UInt32, firstMicroBatch: Bool) throws {
        let P = count, t = plan.tile
        let target = firstMicroBatch ? grads : scratch!
        // The loss kernel finishes the logits' activation (element-wise, parameters, layer-wise) itself.
        var fused = Set([plan.logits])
        func canFuse(_ tensor: Int) -> Bool {
            guard let act = plan.tensors[tensor].activatedBy else { return false }
            return !droppedTensors.contains(tensor) && !parameterSlots.contains(act.slot)
        }
        /// dZ = dA · act'(Z) (and the parameter partials) for an activated tensor whose derivative no later
        /// stage fused; then the layer-wise functions' backward, which no stage fuses.
        func finishActivation(_ tensor: Int) throws {
            let tt = plan.tensors[tensor]
            guard let act = tt.activatedBy, tensor != plan.logits else { return }
            let rows = images * tt.pixels
            if !fused.contains(tensor) {
                let part = partialOffsets[tensor]
                try launch(actBackward, global: [pad(rows), P], named: [
                    "g": g[tensor]!, "zin": z[tensor]!, "cand": cand(tensor), "cs": Int32(tt.channelStride),
                    "C": Int32(tt.channels), "rows": Int32(rows), "params": params,
                    "pstride": Int32(plan.parameterStride), "act_id": activationIDs, "slot": Int32(act.slot),
                    "slots": Int32(slots), "seeds": seeds, "pass": pass, "layer": Int32(act.layer), "status": status,
                    "aoff": Int32(plan.activationOffset), "act_nparams": parameterCounts, "partials": partials,
                    "part_cstride": Int32(partialStride), "part_off": Int32(part ?? -1)])
            }
            try interpretBackward(tensor: tensor, images: images, pass: pass)
            if layerwiseSlots.contains(act.slot) {
                try launch(layerwiseBackward,
                    global: [pad(images), P],
                    a[tensor], g[tensor]!, Int32(tt.channelStride), cand(tensor), Int32(tt.channels), Int32(images),
                    activationIDs, Int32(act.slot), Int32(slots), status)
            }
        }
        for stage in plan.stages.reversed() {
            switch stage {
            case .linear(let pl):
                try finishActivation(pl.output)
                let tin = plan.tensors[pl.input]
                let inStride = tin.pixels == 1 ? tin.channelStride : tin.imageFloats
                let weights = gemmShape(columnTiles: pl.outPad / tn, rowTiles: (pl.k + t.rows - 1) / t.rows)
                try launch(linearBackwardWeights, global: weights.global, local: weights.local, named: [
                    "ain": a[pl.input], "ain_cstride": cand(pl.input), "in_stride": Int32(inStride),
                    "in_n": Int32(pl.k), "dz": g[pl.output]!, "dz_cstride": cand(pl.output),
                    "out_pad": Int32(pl.outPad), "out_n": Int32(pl.outputs), "rows": Int32(images), "grads": target,
                    "pstride": Int32(plan.parameterStride), "woff": Int32(pl.weightOffset), "status": status])
                guard plan.needsGradient(pl.input) else { continue }
                let fuse = canFuse(pl.input) && tin.pixels == 1
                let act = fuse ? tin.activatedBy : nil
                let rowTiles = pad(images) / t.rows, per = tilesPerItem(rowTiles: rowTiles, columnTiles: pl.mirrorRowStride / tn)
                let shape = gemmShape(columnTiles: pl.mirrorRowStride / tn, rowTiles: rowTiles, perItem: per)
                try launch(linearBackwardData, global: shape.global, local: shape.local, named: [
                    "dz": g[pl.output]!, "dz_stride": Int32(pl.outPad), "dz_cstride": cand(pl.output),
                    "out_n": Int32(pl.outputs), "mirror": mirror, "mstride": Int32(plan.mirrorStride),
                    "moff": Int32(pl.mirrorOffset), "in_pad": Int32(pl.mirrorRowStride), "in_n": Int32(pl.k),
                    "zprev": z[pl.input] ?? g[pl.input]!, "dzprev": g[pl.input]!, "prev_cstride": cand(pl.input),
                    "rows": Int32(images), "params": params, "pstride": Int32(plan.parameterStride),
                    "aoff": Int32(plan.activationOffset), "act_id": activationIDs, "slot": Int32(act?.slot ?? -1),
                    "slots": Int32(slots), "seeds": seeds, "pass": pass, "layer_prev": Int32(act?.layer ?? 0),
                    "status": status, "row_tiles": Int32(rowTiles), "tiles_per_item": Int32(per)])
                if fuse { fused.insert(pl.input) }
            case .conv(let pl):
                try finishActivation(pl.output)
                let tin = plan.tensors[pl.input], tout = plan.tensors[pl.output], cv = pl.conv!
                let weights = gemmShape(columnTiles: pl.outPad / tn, rowTiles: (pl.k + t.rows - 1) / t.rows)
                try launch(convBackwardWeights, global: weights.global, local: weights.local, named: [
                    "in": a[pl.input], "in_cand": cand(pl.input), "in_cs": Int32(tin.channelStride),
                    "IC": Int32(cv.inChannels), "IH": Int32(tin.height), "IW": Int32(tin.width), "KH": Int32(cv.kh),
                    "KW": Int32(cv.kw), "pad": Int32(cv.pad), "OH": Int32(tout.height), "OW": Int32(tout.width),
                    "dz": g[pl.output]!, "dz_cand": cand(pl.output), "out_pad": Int32(pl.outPad),
                    "images": Int32(images), "grads": target, "pstride": Int32(plan.parameterStride),
                    "woff": Int32(pl.weightOffset), "status": status])
                guard plan.needsGradient(pl.input) else { continue }
                let fuse = canFuse(pl.input)
                let act = fuse ? tin.activatedBy : nil
                let rows = images * tin.pixels
                let shape = gemmShape(columnTiles: tin.channelStride / tn, rowTiles: pad(rows) / t.rows)
                try launch(convBackwardData, global: shape.global, local: shape.local, named: [
                    "dz": g[pl.output]!, "dz_cand": cand(pl.output), "out_pad": Int32(pl.outPad),
                    "OC": Int32(pl.outputs), "OH": Int32(tout.height), "OW": Int32(tout.width), "KH": Int32(cv.kh),
                    "KW": Int32(cv.kw), "pad": Int32(cv.pad), "mirror": mirror, "mstride": Int32(plan.mirrorStride),
                    "moff": Int32(pl.mirrorOffset), "m_pad": Int32(pl.mirrorRowStride),
                    "zin": z[pl.input] ?? g[pl.input]!, "din": g[pl.input]!, "in_cand": cand(pl.input),
                    "in_cs": Int32(tin.channelStride), "IC": Int32(tin.channels), "IH": Int32(tin.height),
                    "IW": Int32(tin.width), "rows": Int32(rows), "params": params,
                    "pstride": Int32(plan.parameterStride), "act_id": activationIDs, "slot": Int32(act?.slot ?? -1),
                    "slots": Int32(slots), "seeds": seeds, "pass": pass, "layer_prev": Int32(act?.layer ?? 0),
                    "status": status, "aoff": Int32(plan.activationOffset)])
                if fuse { fused.insert(pl.input) }
            case .pool(let input, let output, _):
                guard plan.needsGradient(input) else { continue }
                let tin = plan.tensors[input]
                let fuse = canFuse(input)
                let act = fuse ? tin.activatedBy : nil
                let rows = images * tin.pixels
                try launch(poolBackward, global: [pad(rows), P], named: [
                    "dout": g[output]!, "arg": arg[output]!, "out_cand": cand(output), "zin": z[input] ?? g[input]!,
                    "din": g[input]!, "cand": cand(input), "cs": Int32(tin.channelStride), "C": Int32(tin.channels),
                    "H": Int32(tin.height), "W": Int32(tin.width), "rows": Int32(rows), "params": params,
                    "pstride": Int32(plan.parameterStride), "act_id": activationIDs, "slot": Int32(act?.slot ?? -1),
                    "slots": Int32(slots), "seeds": seeds, "pass": pass, "layer_prev": Int32(act?.layer ?? 0),
                    "status": status, "aoff": Int32(plan.activationOffset)])
                if fuse { fused.insert(input) }
            case .dropout(let tensor, let rate, let layer):
                guard plan.needsGradient(tensor) else { continue }
                try dropout(g[tensor]!, tensor: tensor, rate: rate, layer: layer, images: images, pass: pass, skipFrozen: true)
            case .inputDropout:
                continue
            }
        }
        if !partialOffsets.isEmpty {
            try launch(paramGrads,
                global: [slots * plan.kmax, P],
                partials, Int32(partialStride), partialLayout, Int32(partialOffsets.count), Int32(images),
                target, Int32(plan.parameterStride), Int32(plan.activationOffset), status)
        }
        if !firstMicroBatch {
            try launch(accumulate, global: [plan.parameterStride, P], grads, scratch!, Int32(plan.parameterStride), status)
        }
    }

    /// The optimiser step: every candidate at `step`, unless `slotSteps` gives each its own (a slot pool).
    func update(step: Int, config: TrainingConfig) throws {
        let P = count, steps = candidateSteps(step)
        switch config.optimizer {
        case .adam(let b1, let b2, let eps):
            try uploadStepArguments(steps: steps, config: config)
            try launch(updateKernel, global: [plan.parameterStride / plan.tile.vectorWidth, P], named: [
                "params": params, "grads": grads, "m1": moment1, "m2": moment2, "pstride": Int32(plan.parameterStride),
                "step_args": stepArgs, "b1": Float(b1), "b2": Float(b2), "eps": Float(eps), "status": status])
            // Only the layers whose backward pass reads W (not the first: nothing flows into the input).
            for pl in plan.parameterLayers where plan.needsGradient(pl.input) {
                try launch(mirrorTranspose,
                    global: [pl.outputs, (pl.k + 15) / 16, P],
                    params, Int32(plan.parameterStride), Int32(pl.weightOffset), Int32(pl.k), Int32(pl.outPad),
                    mirror, Int32(plan.mirrorStride), Int32(pl.mirrorOffset), Int32(pl.mirrorRowStride), status)
            }
            return
        case .sgd(let momentum):
            try sgdStep(updateKernel, steps: steps, config: config, momentum: momentum)
        }
    }

    /// `PopulationSession`: the batch in micro-batches of `plan.capacityImages` images (the later ones' gradients
    /// added into the first's), then the optimiser step. Every micro-batch draws its own dropout masks.
    func trainBatch(start: Int, rows: Int, shuffled: Bool, step: Int, config: TrainingConfig) throws {
        try trainStep(rows: rows, step: step, config: config) { first, images in
            try gather(split: "train", start: start + first, images: images, useOrder: shuffled)
        }
    }

    /// One optimiser step over `rows` images in micro-batches; `gather(first, images)` puts images
    /// `first ..< first + images` of the step's batch into the input batch (shared, or each candidate's own).
    /// Dropout keys: `DropoutMask.pass(step, micro)`, less a candidate's entry pass (a slot pool's).
    func trainStep(rows: Int, step: Int, config: TrainingConfig, gather: (Int, Int) throws -> Void) throws {
        let cap = plan.capacityImages
        for (micro, first) in stride(from: 0, to: rows, by: cap).enumerated() {
            let images = min(cap, rows - first)
            let pass = DropoutMask.pass(step: step, micro: micro)
            try gather(first, images)
            try forward(images: images, training: true, pass: pass)
            try loss(images: images, batchImages: rows, training: true, pass: pass, metrics: trainMetrics)
            try backward(images: images, pass: pass, firstMicroBatch: micro == 0)
        }
        try update(step: step, config: config)
    }

    func unpack(_ slice: ArraySlice<Float>, parameterCounts: [Int]) -> (weights: CNNWeights, activationParameters: [[Float]]) {
        (plan.unpack(slice), plan.activationParameters(slice, counts: parameterCounts))
    }

    /// Evaluation-mode loss sums and hits of every candidate on a split, micro-batch by micro-batch.
    func evaluate(split name: String) throws -> [(lossSum: Double, hits: Double)] {
        let rows = splits[name]!.rows
        try evalMetrics.fill(0)
        for start in stride(from: 0, to: rows, by: plan.capacityImages) {
            let n = min(plan.capacityImages, rows - start)
            try gather(split: name, start: start, images: n, useOrder: false)
            try forward(images: n, training: false, pass: NoiseKey.evaluationPass)
            try loss(images: n, batchImages: n, training: false, pass: NoiseKey.evaluationPass, metrics: evalMetrics)
        }
        return try metricSums(evalMetrics)
    }
}
