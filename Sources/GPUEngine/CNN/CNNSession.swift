import Foundation
import Datasets
import Kernels

/// One chunk of a CNN population on the device: its buffers and the launches of a micro-batch's forward
/// pass, loss, backward pass and the optimiser step. Linear layers, the loss, the metric reduction and
/// Adam/SGD are the MLP trainer's kernels (mlp_gemm.cl, mlp_rows.cl, adam_update.cl); convolution,
/// pooling and dropout are cnn_layers.cl.
final class CNNSession {
    let device: ComputeDevice
    let plan: CNNPlan
    let count: Int
    let slots: Int

    let convForward, convBackwardWeights, convBackwardData, poolForward, poolBackward: ComputeKernel
    let dropoutKernel, actBackward, accumulate, gatherKernel: ComputeKernel
    let linearForward, linearBackwardData, linearBackwardWeights, lossKernel, reduceKernel, updateKernel: ComputeKernel
    let mirrorTranspose, layerwiseForward, layerwiseBackward, paramGrads, inputDropout: ComputeKernel

    let params, grads, moment1, moment2, mirror: DeviceBuffer<Float>
    /// Gradients of the later micro-batches of a step, added into `grads` (allocated only when needed).
    let scratch: DeviceBuffer<Float>?
    /// Per tensor (index 0 = the shared input batch): values, pre-activations, gradients, pool argmax.
    let a: [DeviceBuffer<Float>]
    let z: [DeviceBuffer<Float>?]
    let g: [DeviceBuffer<Float>?]
    let arg: [DeviceBuffer<UInt8>?]
    let rowLoss, rowHit, trainMetrics, evalMetrics: DeviceBuffer<Float>
    let status: DeviceBuffer<Int32>
    let activationIDs, parameterCounts, updateLayout: DeviceBuffer<Int32>
    let seeds: DeviceBuffer<UInt32>
    /// SGD's per-candidate step arguments (`Optimizer.stepArguments`).
    let stepArgs: DeviceBuffer<Float>
    let batchLabels: DeviceBuffer<Int32>
    var order: DeviceBuffer<Int32>?
    /// Tensors a dropout works on: their producer's activation derivative cannot be fused upstream.
    let droppedTensors: Set<Int>
    /// Slots where some candidate has learnable parameters (their derivative is never fused: the
    /// parameter partials come from cnn_act_backward or the loss kernel), and slots where some candidate
    /// has a layer-wise function (Linear layers only; finished by mlp_layerwise_backward).
    let parameterSlots: Set<Int>
    let layerwiseSlots: Set<Int>
    /// With learnable parameters: per-row partials of every layer activated by a parameter slot
    /// (`partialOffsets` by tensor), their layout for cnn_param_grads, and a sink for the per-row partials
    /// the loss kernel writes when the logits' slot has none.
    let partials, partialSink: DeviceBuffer<Float>
    let partialStride, sinkStride: Int
    let partialOffsets: [Int: Int]
    let partialLayout: DeviceBuffer<Int32>
    /// Interpreted activations (`ActivationExecution.interpreted`): the interpreter's kernels and tapes,
    /// and the slots some candidate runs through them (their GEMMs and fused derivatives see the identity).
    let interpreter: InterpretedActivations?

    private var splits: [String: (x: DeviceBuffer<Float>, labels: DeviceBuffer<Int32>, rows: Int)] = [:]

    /// When set, every stage waits for the device and its wall time is added to `stageSeconds` (for the
    /// benchmark's breakdown; it serialises host and device, so leave it off otherwise).
    var profile = false
    private(set) var stageSeconds: [String: Double] = [:]
    private var stageClock = ContinuousClock.now
    private func mark(_ name: String) throws {
        guard profile else { return }
        try device.finish()
        stageSeconds[name, default: 0] += PopulationTrainer.seconds(since: stageClock)
        stageClock = ContinuousClock.now
    }

    init(device: ComputeDevice, program: ComputeProgram, plan: CNNPlan, activationIDs ids: [[Int32]],
         parameterCounts counts: [[Int]], initial: [(params: [Float], mirror: [Float])], seeds seedValues: [UInt32],
         optimizer: Optimizer, needsAccumulation: Bool, tapes: PackedTapes? = nil, tapeOffsets: [[Int32]] = []) throws {
        self.device = device
        self.plan = plan
        count = initial.count
        slots = plan.architecture.slotCount
        convForward = try program.kernel("cnn_conv_forward")
        convBackwardWeights = try program.kernel("cnn_conv_backward_weights")
        convBackwardData = try program.kernel("cnn_conv_backward_data")
        poolForward = try program.kernel("cnn_pool_forward")
        poolBackward = try program.kernel("cnn_pool_backward")
        dropoutKernel = try program.kernel("cnn_dropout")
        actBackward = try program.kernel("cnn_act_backward")
        accumulate = try program.kernel("cnn_grad_accumulate")
        gatherKernel = try program.kernel("cnn_gather_images")
        linearForward = try program.kernel("cnn_linear_forward")
        linearBackwardData = try program.kernel("cnn_linear_backward_data")
        linearBackwardWeights = try program.kernel("mlp_backward_weights")
        lossKernel = try program.kernel("mlp_loss")
        reduceKernel = try program.kernel("mlp_metrics_reduce")
        if case .adam = optimizer { updateKernel = try program.kernel("cnn_adam_update") } else { updateKernel = try program.kernel("sgd_update") }
        mirrorTranspose = try program.kernel("cnn_mirror_transpose")
        layerwiseForward = try program.kernel("mlp_layerwise_forward")
        layerwiseBackward = try program.kernel("mlp_layerwise_backward")
        paramGrads = try program.kernel("cnn_param_grads")
        inputDropout = try program.kernel("cnn_input_dropout")

        let P = count, ps = plan.parameterStride
        params = try device.buffer(initial.flatMap(\.params))
        mirror = try device.buffer(initial.flatMap(\.mirror))
        grads = try device.buffer(Float.self, count: P * ps)
        moment1 = try device.buffer(Float.self, count: P * ps)
        moment2 = try device.buffer(Float.self, count: P * ps)
        for b in [grads, moment1, moment2] { try b.fill(0) }
        scratch = needsAccumulation ? try device.buffer(Float.self, count: P * ps) : nil
        try scratch?.fill(0)
        var a: [DeviceBuffer<Float>] = [], z: [DeviceBuffer<Float>?] = [], g: [DeviceBuffer<Float>?] = []
        var arg: [DeviceBuffer<UInt8>?] = []
        a.append(try device.buffer(Float.self, count: plan.tensorFloats(0)))
        try a[0].fill(0)
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
        rowLoss = try device.buffer(Float.self, count: P * cap)
        rowHit = try device.buffer(Float.self, count: P * cap)
        trainMetrics = try device.buffer(Float.self, count: 2 * P)
        evalMetrics = try device.buffer(Float.self, count: 2 * P)
        status = try device.buffer([Int32](repeating: 0, count: P))
        activationIDs = try device.buffer(ids.flatMap { $0 } + [0])
        parameterCounts = try device.buffer(counts.flatMap { $0.map(Int32.init) } + [0])
        updateLayout = try device.buffer(plan.updateLayout)
        seeds = try device.buffer(NoiseKey.deviceWords(seed32s: seedValues))
        stepArgs = try device.buffer(Float.self, count: 2 * P)
        batchLabels = try device.buffer(Int32.self, count: cap)
        var dropped = Set<Int>()
        for case .dropout(let t, _, _) in plan.stages { dropped.insert(t) }
        droppedTensors = dropped
        let slotCount = slots
        parameterSlots = Set((0..<slotCount).filter { s in counts.contains { $0[s] > 0 } })
        layerwiseSlots = Set((0..<slotCount).filter { s in ids.contains { $0[s] <= -2 } })
        // One partial per row (pixel or image) and parameter for each tensor activated by a parameter slot.
        var offsets: [Int: Int] = [:], layout: [Int32] = [], off = 0, sink: Int
        for (t, tensor) in plan.tensors.enumerated() {
            guard let act = tensor.activatedBy, parameterSlots.contains(act.slot) else { continue }
            offsets[t] = off
            layout += [Int32(act.slot), Int32(off), Int32(tensor.pixels)]
            off += (cap * tensor.pixels).roundedUp(toMultipleOf: plan.tile.rows) * plan.kmax
        }
        sink = cap.roundedUp(toMultipleOf: plan.tile.rows) * plan.kmax
        partialOffsets = offsets
        partialStride = max(off, 1)
        sinkStride = max(sink, 1)
        partials = try device.buffer(Float.self, count: plan.kmax > 0 ? P * partialStride : 1)
        partialSink = try device.buffer(Float.self, count: plan.kmax > 0 ? P * sinkStride : 1)
        partialLayout = try device.buffer(layout + [0])
        interpreter = try InterpretedActivations(program: program, tapes: tapes, offsets: tapeOffsets, slotCount: slotCount,
                                                 tile: plan.tile)
    }

    /// A = f(Z) (and Z kept in training) for the interpreted candidates of the activated tensor `t`, which
    /// its producer (conv or Linear, run with the identity for them) holds in A.
    private func interpretForward(tensor t: Int, images: Int, training: Bool, pass: UInt32) throws {
        let tt = plan.tensors[t]
        guard let ip = interpreter, let act = tt.activatedBy, ip.slots.contains(act.slot) else { return }
        try ip.forward(a: a[t], z: training ? z[t]! : a[t], stride: tt.channelStride, candidateStride: cand(t), cols: tt.channels,
                       rows: images * tt.pixels, candidates: count, slot: act.slot, layer: act.layer, rowOffset: 0,
                       training: training, seeds: seeds, pass: pass, status: status)
        try mark("interpreted activation forward")
    }

    /// dL/dZ = dL/dA · f'(Z) in place in g[t] for the interpreted candidates of the activated tensor `t`.
    private func interpretBackward(tensor t: Int, images: Int, pass: UInt32) throws {
        let tt = plan.tensors[t]
        guard let ip = interpreter, let act = tt.activatedBy, ip.slots.contains(act.slot) else { return }
        try ip.backward(g: g[t]!, z: z[t]!, stride: tt.channelStride, candidateStride: cand(t), cols: tt.channels,
                        rows: images * tt.pixels, candidates: count, slot: act.slot, layer: act.layer, seeds: seeds, pass: pass,
                        status: status)
        try mark("interpreted activation backward")
    }

    func upload(split name: String, _ data: LabeledData) throws {
        guard splits[name] == nil else { return }
        splits[name] = (try device.buffer(data.features), try device.buffer(data.labels), data.rowCount)
    }

    /// Row tiles one work-item of a Linear layer walks: all of them, unless that leaves fewer than 64
    /// work-items to spread over the device's cores.
    private func tilesPerItem(rowTiles: Int, columnTiles: Int) -> Int {
        let groups = min(rowTiles, max(1, (64 + columnTiles * count - 1) / (columnTiles * count)))
        return (rowTiles + groups - 1) / groups
    }

    private func pad(_ n: Int) -> Int { n.roundedUp(toMultipleOf: plan.tile.rows) }
    private var tn: Int { plan.tile.columns }
    private func cand(_ t: Int) -> Int32 { t == 0 ? 0 : Int32(plan.tensorFloats(t)) }

    /// Copies `images` rows of a split (through `order` when given) into the input batch as H×W×C.
    func gather(split name: String, start: Int, images: Int, useOrder: Bool) throws {
        let s = splits[name]!, shape = plan.inputShape
        try gatherKernel.launch(global: [plan.capacityImages],
                                args: s.x, Int32(shape[0]), Int32(shape[1]), Int32(shape[2]), s.labels,
                                order ?? batchLabels, Int32(useOrder ? 1 : 0), Int32(start), Int32(images), a[0], batchLabels)
        try mark("gather")
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
                try convForward.launch(
                    global: [pl.outPad / tn, pad(rows) / t.rows, P],
                    args: a[pl.input], cand(pl.input), Int32(tin.channelStride), Int32(cv.inChannels), Int32(tin.height), Int32(tin.width),
                    Int32(cv.kh), Int32(cv.kw), Int32(cv.pad), Int32(tout.height), Int32(tout.width),
                    params, Int32(plan.parameterStride), Int32(pl.weightOffset), Int32(pl.outPad), Int32(pl.outputs),
                    zb, a[pl.output], cand(pl.output), Int32(rows),
                    activationIDs, Int32(pl.slot ?? -1), Int32(slots), seeds, pass, train, Int32(pl.layer), status, train,
                    Int32(plan.activationOffset))
                try mark("conv forward \(pl.layer)")
                try interpretForward(tensor: pl.output, images: images, training: training, pass: pass)
            case .linear(let pl):
                let tin = plan.tensors[pl.input]
                let zb = training && z[pl.output] != nil ? z[pl.output]! : a[pl.output]
                let rowTiles = pad(images) / t.rows, per = tilesPerItem(rowTiles: rowTiles, columnTiles: pl.outPad / tn)
                try linearForward.launch(
                    global: [pl.outPad / tn, (rowTiles + per - 1) / per, P],
                    args: a[pl.input], cand(pl.input), Int32(tin.pixels == 1 ? tin.channelStride : tin.imageFloats), Int32(pl.k),
                    params, Int32(plan.parameterStride), Int32(pl.weightOffset), Int32(pl.outPad), Int32(pl.outputs),
                    zb, a[pl.output], cand(pl.output), Int32(images),
                    activationIDs, Int32(pl.slot ?? -1), Int32(slots), Int32(plan.activationOffset),
                    seeds, pass, train, Int32(pl.layer), status, train, Int32(rowTiles), Int32(per))
                try mark("linear forward \(pl.layer)")
                try interpretForward(tensor: pl.output, images: images, training: training, pass: pass)
                if let slot = pl.slot, layerwiseSlots.contains(slot) {
                    // The GEMM left A = Z for these candidates; the row kernel applies the function in place.
                    try layerwiseForward.launch(
                        global: [pad(images), P],
                        args: a[pl.output], a[pl.output], Int32(pl.outPad), cand(pl.output), Int32(pl.outputs), Int32(images),
                        activationIDs, Int32(slot), Int32(slots), seeds, pass, Int32(pl.layer), Int32(0), status, train)
                    try mark("layer-wise forward")
                }
            case .pool(let input, let output, _):
                let tin = plan.tensors[input], tout = plan.tensors[output]
                try poolForward.launch(
                    global: [pad(images) * tout.pixels, P],
                    args: a[input], a[output], arg[output]!, cand(input), cand(output), Int32(tin.channelStride),
                    Int32(tin.channels), Int32(tin.height), Int32(tin.width), Int32(images), status, train)
                try mark("pool forward")
            case .dropout(let tensor, let rate, let layer):
                guard training else { continue }
                try dropout(a[tensor], tensor: tensor, rate: rate, layer: layer, images: images, pass: pass, skipFrozen: true)
                try mark("dropout")
            case .inputDropout(let output, let rate, let layer):
                let tt = plan.tensors[output]
                try inputDropout.launch(
                    global: [plan.capacityImages, P],
                    args: a[0], a[output], cand(output), Int32(tt.channels), Int32(tt.height), Int32(tt.width),
                    Float(rate), Float(1 / (1 - rate)), seeds, pass, Int32(layer), train, status, train)
                try mark("dropout")
            }
        }
    }

    private func dropout(_ buffer: DeviceBuffer<Float>, tensor: Int, rate: Double, layer: Int, images: Int, pass: UInt32, skipFrozen: Bool) throws {
        let tt = plan.tensors[tensor]
        try dropoutKernel.launch(
            global: [images, count],
            args: buffer, cand(tensor), Int32(tt.channelStride), Int32(tt.channels), Int32(tt.height), Int32(tt.width),
            Int32(images), Float(rate), Float(1 / (1 - rate)), seeds, pass, Int32(layer), status, Int32(skipFrozen ? 1 : 0))
    }

    /// Row losses and hits of the batch summed into `metrics`; in training also dZ of the logits for the
    /// loss averaged over `batchImages` (the whole optimiser batch, not the micro-batch).
    func loss(images: Int, batchImages: Int, training: Bool, pass: UInt32, metrics: DeviceBuffer<Float>) throws {
        let L = plan.logits, last = plan.parameterLayers.last!
        let zlast = z[L] ?? a[L]
        let logitPartials = training ? partialOffsets[L] : nil
        try lossKernel.launch(
            global: [pad(images), count],
            args: a[L], zlast, Int32(last.outPad), cand(L), Int32(last.outputs), Int32(images), batchLabels,
            Float(1.0 / Double(batchImages)), rowLoss, rowHit, Int32(plan.capacityImages),
            Int32(training ? 1 : 0), g[L]!, params, Int32(plan.parameterStride), Int32(plan.activationOffset),
            activationIDs, parameterCounts, Int32(last.slot ?? -1), Int32(slots),
            logitPartials != nil ? partials : partialSink, Int32(logitPartials != nil ? partialStride : sinkStride),
            Int32(logitPartials ?? 0), seeds, pass, Int32(last.layer), status, Int32(training ? 1 : 0), Int32(0))
        try reduceKernel.launch(global: [count], args: rowLoss, rowHit, Int32(plan.capacityImages), Int32(images),
                                metrics, Int32(training ? 1 : 0), status)
        try mark("loss")
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
                try actBackward.launch(
                    global: [pad(rows), P],
                    args: g[tensor]!, z[tensor]!, cand(tensor), Int32(tt.channelStride), Int32(tt.channels), Int32(rows),
                    params, Int32(plan.parameterStride), activationIDs, Int32(act.slot), Int32(slots), seeds, pass,
                    Int32(act.layer), status, Int32(plan.activationOffset), parameterCounts, partials, Int32(partialStride),
                    Int32(part ?? -1))
                try mark("activation backward")
            }
            try interpretBackward(tensor: tensor, images: images, pass: pass)
            if layerwiseSlots.contains(act.slot) {
                try layerwiseBackward.launch(
                    global: [pad(images), P],
                    args: a[tensor], g[tensor]!, Int32(tt.channelStride), cand(tensor), Int32(tt.channels), Int32(images),
                    activationIDs, Int32(act.slot), Int32(slots), status)
                try mark("layer-wise backward")
            }
        }
        for stage in plan.stages.reversed() {
            switch stage {
            case .linear(let pl):
                try finishActivation(pl.output)
                let tin = plan.tensors[pl.input]
                let inStride = tin.pixels == 1 ? tin.channelStride : tin.imageFloats
                try linearBackwardWeights.launch(
                    global: [pl.outPad / tn, (pl.k + t.rows - 1) / t.rows, P],
                    args: a[pl.input], cand(pl.input), Int32(inStride), Int32(pl.k),
                    g[pl.output]!, cand(pl.output), Int32(pl.outPad), Int32(pl.outputs), Int32(images),
                    target, Int32(plan.parameterStride), Int32(pl.weightOffset), status)
                try mark("linear weight gradients \(pl.layer)")
                guard plan.needsGradient(pl.input) else { continue }
                let fuse = canFuse(pl.input) && tin.pixels == 1
                let act = fuse ? tin.activatedBy : nil
                let rowTiles = pad(images) / t.rows, per = tilesPerItem(rowTiles: rowTiles, columnTiles: pl.mirrorRowStride / tn)
                try linearBackwardData.launch(
                    global: [pl.mirrorRowStride / tn, (rowTiles + per - 1) / per, P],
                    args: g[pl.output]!, Int32(pl.outPad), cand(pl.output), Int32(pl.outputs),
                    mirror, Int32(plan.mirrorStride), Int32(pl.mirrorOffset), Int32(pl.mirrorRowStride), Int32(pl.k),
                    z[pl.input] ?? g[pl.input]!, g[pl.input]!, cand(pl.input), Int32(images),
                    params, Int32(plan.parameterStride), Int32(plan.activationOffset), activationIDs,
                    Int32(act?.slot ?? -1), Int32(slots), seeds, pass, Int32(act?.layer ?? 0), status, Int32(rowTiles), Int32(per))
                try mark("linear data gradients \(pl.layer)")
                if fuse { fused.insert(pl.input) }
            case .conv(let pl):
                try finishActivation(pl.output)
                let tin = plan.tensors[pl.input], tout = plan.tensors[pl.output], cv = pl.conv!
                try convBackwardWeights.launch(
                    global: [pl.outPad / tn, (pl.k + t.rows - 1) / t.rows, P],
                    args: a[pl.input], cand(pl.input), Int32(tin.channelStride), Int32(cv.inChannels), Int32(tin.height), Int32(tin.width),
                    Int32(cv.kh), Int32(cv.kw), Int32(cv.pad), Int32(tout.height), Int32(tout.width),
                    g[pl.output]!, cand(pl.output), Int32(pl.outPad), Int32(images),
                    target, Int32(plan.parameterStride), Int32(pl.weightOffset), status)
                try mark("conv weight gradients \(pl.layer)")
                guard plan.needsGradient(pl.input) else { continue }
                let fuse = canFuse(pl.input)
                let act = fuse ? tin.activatedBy : nil
                let rows = images * tin.pixels
                try convBackwardData.launch(
                    global: [tin.channelStride / tn, pad(rows) / t.rows, P],
                    args: g[pl.output]!, cand(pl.output), Int32(pl.outPad), Int32(pl.outputs), Int32(tout.height), Int32(tout.width),
                    Int32(cv.kh), Int32(cv.kw), Int32(cv.pad),
                    mirror, Int32(plan.mirrorStride), Int32(pl.mirrorOffset), Int32(pl.mirrorRowStride),
                    z[pl.input] ?? g[pl.input]!, g[pl.input]!, cand(pl.input), Int32(tin.channelStride), Int32(tin.channels),
                    Int32(tin.height), Int32(tin.width), Int32(rows),
                    params, Int32(plan.parameterStride), activationIDs, Int32(act?.slot ?? -1), Int32(slots),
                    seeds, pass, Int32(act?.layer ?? 0), status, Int32(plan.activationOffset))
                try mark("conv data gradients \(pl.layer)")
                if fuse { fused.insert(pl.input) }
            case .pool(let input, let output, _):
                guard plan.needsGradient(input) else { continue }
                let tin = plan.tensors[input]
                let fuse = canFuse(input)
                let act = fuse ? tin.activatedBy : nil
                let rows = images * tin.pixels
                try poolBackward.launch(
                    global: [pad(rows), P],
                    args: g[output]!, arg[output]!, cand(output), z[input] ?? g[input]!, g[input]!, cand(input),
                    Int32(tin.channelStride), Int32(tin.channels), Int32(tin.height), Int32(tin.width), Int32(rows),
                    params, Int32(plan.parameterStride), activationIDs, Int32(act?.slot ?? -1), Int32(slots),
                    seeds, pass, Int32(act?.layer ?? 0), status, Int32(plan.activationOffset))
                try mark("pool backward \(input)")
                if fuse { fused.insert(input) }
            case .dropout(let tensor, let rate, let layer):
                guard plan.needsGradient(tensor) else { continue }
                try dropout(g[tensor]!, tensor: tensor, rate: rate, layer: layer, images: images, pass: pass, skipFrozen: true)
                try mark("dropout")
            case .inputDropout:
                continue
            }
        }
        if !partialOffsets.isEmpty {
            try paramGrads.launch(
                global: [slots * plan.kmax, P],
                args: partials, Int32(partialStride), partialLayout, Int32(partialOffsets.count), Int32(images),
                target, Int32(plan.parameterStride), Int32(plan.activationOffset), status)
            try mark("activation parameter gradients")
        }
        if !firstMicroBatch {
            try accumulate.launch(global: [plan.parameterStride, P], args: grads, scratch!, Int32(plan.parameterStride), status)
            try mark("gradient accumulation")
        }
    }

    func update(step: Int, config: TrainingConfig) throws {
        let t = Double(step + 1), P = count, layers = Int32(plan.parameterLayers.count)
        switch config.optimizer {
        case .adam(let b1, let b2, let eps):
            try updateKernel.launch(
                global: [plan.parameterStride / plan.tile.vectorWidth, P],
                args: params, grads, moment1, moment2, Int32(plan.parameterStride),
                Float(config.learningRate / (1 - pow(b1, t))), Float(b1), Float(b2), Float(eps),
                Float((1 - pow(b2, t)).squareRoot()), status)
            try mark("optimiser")
            // Only the layers whose backward pass reads W (not the first: nothing flows into the input).
            for pl in plan.parameterLayers where plan.needsGradient(pl.input) {
                try mirrorTranspose.launch(
                    global: [pl.outputs, (pl.k + 15) / 16, P],
                    args: params, Int32(plan.parameterStride), Int32(pl.weightOffset), Int32(pl.k), Int32(pl.outPad),
                    mirror, Int32(plan.mirrorStride), Int32(pl.mirrorOffset), Int32(pl.mirrorRowStride), status)
            }
            try mark("mirror transpose")
            return
        case .sgd(let momentum):
            let (lr, first) = config.optimizer.stepArguments(learningRate: config.learningRate, step: step)
            try stepArgs.upload((0..<P).flatMap { _ in [lr, first] })
            try updateKernel.launch(
                global: [plan.parameterStride, P],
                args: params, grads, moment1, mirror, Int32(plan.parameterStride), Int32(plan.mirrorStride),
                updateLayout, layers, stepArgs, Float(momentum), status)
        }
        try mark("optimiser")
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
        let m = try evalMetrics.download()
        return (0..<count).map { (Double(m[2 * $0]), Double(m[2 * $0 + 1])) }
    }
}
