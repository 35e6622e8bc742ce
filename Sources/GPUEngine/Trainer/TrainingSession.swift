import Foundation
import Datasets

/// One chunk of a population on the device: its buffers, and the launches of a training step and of an
/// evaluation pass. Kernel shapes and buffer layouts are documented in kernels/mlp_*.cl.
final class TrainingSession {
    let device: ComputeDevice
    let layout: MLPLayout
    let spec: MLPSpec
    /// Candidates the buffers hold.
    let capacity: Int
    /// Candidates the launches cover (the first `count` of `capacity`); a `PopulationPool` lowers it when
    /// its last candidates are left in the low slots, so stragglers do not pay for empty slots.
    var count: Int
    let slots: Int

    /// Which GEMM kernels run and in what launch shapes (`GEMMVariant`; its tile is `layout.tile`).
    let gemm: GEMMVariant
    // Kernels (one object per session: argument setting is per kernel object).
    let forwardKernel, backwardDataKernel, backwardWeightsKernel, lossKernel, reduceKernel: ComputeKernel
    let gatherKernel, layerwiseForwardKernel, layerwiseBackwardKernel, paramGradsKernel, updateKernel: ComputeKernel
    /// The fused row kernel (kernels/mlp_fused.cl) when this chunk's steps run fused: `mlp_train_candidate`
    /// (pass `.candidates`) or `mlp_train_rows` (`.tiles`), with its per-layer table.
    let fused: (kernel: ComputeKernel, info: DeviceBuffer<Int32>, pass: RowPass, blockRows: Int)?
    /// The activation interpreter's kernels and tapes (interpreted execution only).
    let interpreter: InterpretedActivations?

    // Per-candidate state.
    let params, grads, moment1, moment2, mirror: DeviceBuffer<Float>
    /// Every layer's Z (or act'(Z), then dZ in a fused step) and A, as slices of one buffer each.
    let z, a: [DeviceBuffer<Float>]
    let zAll, aAll: DeviceBuffer<Float>
    let dz: [DeviceBuffer<Float>]
    let partials, rowLoss, rowHit, trainMetrics, evalMetrics: DeviceBuffer<Float>
    let status: DeviceBuffer<Int32>
    let activationIDs, parameterCounts, weightLayout, partialLayout: DeviceBuffer<Int32>
    let seeds: DeviceBuffer<UInt32>
    /// Layers whose slot is layer-wise for at least one candidate of this chunk.
    var layerwiseLayers: Set<Int>
    /// Each slot's own optimiser step when slots were filled at different steps (`PopulationPool`); nil: every
    /// candidate is at the step `trainStep` is given.
    var slotSteps: [Int]?
    /// Evaluation passes skip frozen candidates (a pool's empty and finished slots) instead of running every
    /// candidate.
    var evaluationSkipsFrozen = false
    /// The optimiser's per-candidate step arguments (`Optimizer.stepArguments`), 2 floats per candidate.
    let stepArgs: DeviceBuffer<Float>
    /// Layers whose slot is interpreted for at least one candidate of this chunk.
    let interpretedLayers: Set<Int>
    /// Work-group sizes independent of the population size (see `workGroup(for:kernel:)`).
    let fixedWorkGroups: Bool

    // Shared input batch.
    let input: DeviceBuffer<Float>
    let batchLabels: DeviceBuffer<Int32>
    var order: DeviceBuffer<Int32>?

    /// Kernel events of the current epoch when profiling (`PopulationTrainer.profileKernels`).
    var profiling = false
    private var events: [KernelEvent] = []
    /// Device seconds per kernel name, summed over the profiled launches.
    private(set) var kernelSeconds: [String: Double] = [:]

    private func note(_ event: KernelEvent) {
        if profiling { events.append(event) }
    }

    /// Enqueues `kernel` over `global` in work-groups of `local`, or of `workGroup(for:)`.
    func launch(_ kernel: ComputeKernel, global: [Int], local: [Int]? = nil,
                        _ args: any KernelArgumentConvertible...) throws {
        try launch(kernel, global: global, local: local, arguments: args)
    }

    func launch(_ kernel: ComputeKernel, global: [Int], local: [Int]? = nil,
                arguments args: [any KernelArgumentConvertible]) throws {
        note(try kernel.launch(global: global, local: local ?? workGroup(for: global, kernel: kernel),
                               arguments: args.map(\.kernelArgument)))
    }

    /// nil (the driver's choice) except for interpreted populations under the CPU profile. PoCL compiles a kernel
    /// once per work-group size and, left to choose, derives the size from the whole launch, candidate count
    /// included: every generation of an evolution (a new number of networks to train) compiled every kernel
    /// again, seconds each time. Here the size depends only on the layer and batch shape: the candidate
    /// dimension gets 1, the others the largest divisors within 64 work-items.
    private func workGroup(for global: [Int], kernel: ComputeKernel) -> [Int]? {
        guard fixedWorkGroups else { return nil }
        let candidateDimension = kernel === gatherKernel ? -1 : global.count - 1
        var budget = 64
        return global.enumerated().map { d, size in
            if d == candidateDimension { return 1 }
            let g = (1...max(1, min(size, budget))).last { size % $0 == 0 } ?? 1
            budget /= g
            return g
        }
    }

    /// Waits for the recorded launches and adds their device times to `kernelSeconds`.
    func collectProfile() throws {
        for e in events { kernelSeconds[e.kernelName, default: 0] += try e.timing().seconds }
        events.removeAll()
    }

    /// Device copies of the splits, uploaded once.
    private var splits: [String: (x: DeviceBuffer<Float>, labels: DeviceBuffer<Int32>, rows: Int)] = [:]

    init(device: ComputeDevice, profile: DeviceProfile, gemm: GEMMVariant? = nil, program: ComputeProgram, layout: MLPLayout, popProgram: PopulationProgram,
         members: [Int], initial: [(params: [Float], mirror: [Float])], seeds seedValues: [UInt32],
         optimizer: Optimizer, rowPass: RowPass = .candidates, blockRows: Int = 32, candidateMinimum: Int? = nil) throws {
        self.device = device
        self.layout = layout
        spec = layout.spec
        capacity = members.count
        count = capacity
        slots = spec.slotCount
        let gemm = gemm ?? GEMMVariant(tile: layout.tile)
        self.gemm = gemm
        forwardKernel = try program.kernel(gemm.kernelName(.forward))
        backwardDataKernel = try program.kernel(gemm.kernelName(.backwardData))
        backwardWeightsKernel = try program.kernel(gemm.kernelName(.backwardWeights))
        lossKernel = try program.kernel("mlp_loss")
        reduceKernel = try program.kernel("mlp_metrics_reduce")
        gatherKernel = try program.kernel("mlp_gather")
        layerwiseForwardKernel = try program.kernel("mlp_layerwise_forward")
        layerwiseBackwardKernel = try program.kernel("mlp_layerwise_backward")
        paramGradsKernel = try program.kernel("mlp_param_grads")
        if case .adam = optimizer { updateKernel = try program.kernel("adam_update") } else { updateKernel = try program.kernel("sgd_update") }

        let P = count
        params = try device.buffer(initial.flatMap(\.params))
        mirror = try device.buffer(initial.flatMap(\.mirror))
        grads = try device.buffer(Float.self, count: P * layout.parameterStride)
        moment1 = try device.buffer(Float.self, count: P * layout.parameterStride)
        moment2 = try device.buffer(Float.self, count: P * layout.parameterStride)
        for b in [grads, moment1, moment2] { try b.fill(0) }
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
        rowLoss = try device.buffer(Float.self, count: P * layout.capacityRows)
        rowHit = try device.buffer(Float.self, count: P * layout.capacityRows)
        trainMetrics = try device.buffer(Float.self, count: 2 * P)
        evalMetrics = try device.buffer(Float.self, count: 2 * P)
        status = try device.buffer([Int32](repeating: 0, count: P))
        stepArgs = try device.buffer(Float.self, count: 2 * P)
        activationIDs = try device.buffer(members.flatMap { popProgram.activationIDs[$0] } + [0])
        parameterCounts = try device.buffer(members.flatMap { popProgram.parameterCounts[$0].map(Int32.init) } + [0])
        let spec = layout.spec
        weightLayout = try device.buffer(UpdateLayerRow.table((0..<spec.layerCount).map { l in
            UpdateLayerRow(weightOffset: layout.weightOffsets[l], inputs: spec.widths[l], outputPad: layout.paddedWidths[l + 1],
                           mirrorOffset: layout.mirrorOffsets[l], outputs: spec.widths[l + 1], mirrorRowStride: layout.paddedWidths[l])
        }))
        partialLayout = try device.buffer(layout.partialLayout.flatMap { [Int32($0.slot), Int32($0.offset), Int32($0.columnTiles)] } + [0])
        seeds = try device.buffer(NoiseKey.deviceWords(seed32s: seedValues))
        var lw = Set<Int>()
        for l in 0..<spec.layerCount {
            guard let s = spec.slot(ofLayer: l) else { continue }
            if members.contains(where: { popProgram.activationIDs[$0][s] <= -2 }) { lw.insert(l) }
        }
        layerwiseLayers = lw
        let interpreter = try InterpretedActivations(program: program, tapes: popProgram.tapes,
                                                     offsets: members.map { popProgram.tapeOffsets[$0] },
                                                     slotCount: slots, tile: layout.tile)
        self.interpreter = interpreter
        let layerSlots = (0..<layout.spec.layerCount).map { layout.spec.slot(ofLayer: $0) }
        interpretedLayers = Set(layerSlots.indices.filter { l in
            layerSlots[l].map { interpreter?.slots.contains($0) ?? false } ?? false
        })
        fixedWorkGroups = interpreter != nil && profile.fixesInterpreterWorkGroups
        input = try device.buffer(Float.self, count: layout.capacityRows * layout.paddedWidths[0])
        try input.fill(0)
        batchLabels = try device.buffer(Int32.self, count: layout.capacityRows)
        if rowPass != .layers && profile.fusesRowPasses && Self.fusedRowsAllowed(layout: layout) {
            let pass: RowPass = rowPass == .candidates && count >= (candidateMinimum ?? device.info.computeUnits) ? .candidates : .tiles
            let sp = layout.spec
            let info = try device.buffer(FusedLayerRow.table((0..<sp.layerCount).map { l in
                FusedLayerRow(weightOffset: layout.weightOffsets[l], inputs: sp.widths[l], outputs: sp.widths[l + 1],
                              mirrorOffset: layout.mirrorOffsets[l], slot: sp.slot(ofLayer: l) ?? -1, activationOffset: offsets[l],
                              partialOffset: sp.slot(ofLayer: l) != nil ? layout.partialLayout[l].offset : 0)
            }))
            let tm = layout.tile.rows
            fused = (try program.kernel(pass == .candidates ? "mlp_train_candidate" : "mlp_train_rows"), info, pass,
                     max(tm, (blockRows + tm - 1) / tm * tm))
        } else {
            fused = nil
        }
    }

    func upload(split name: String, _ data: LabeledData) throws {
        guard splits[name] == nil else { return }
        splits[name] = (try device.buffer(data.features), try device.buffer(data.labels), data.rowCount)
    }

    func rowTilesPad(_ rows: Int) -> Int { rows.roundedUp(toMultipleOf: layout.tile.rows) }

    /// Copies rows of a split into the shared input batch (through `order` when given).
    func gather(split name: String, start: Int, rows: Int, useOrder: Bool) throws {
        let s = splits[name]!
        let rowsPad = rowTilesPad(rows)
        try launch(gatherKernel, global: [rowsPad], s.x, Int32(spec.inputCount), s.labels,
                                order ?? batchLabels, Int32(useOrder ? 1 : 0), Int32(start), Int32(rows),
                                input, Int32(layout.paddedWidths[0]), batchLabels)
    }

    /// Forward pass of every layer over the current input batch. Evaluation writes A over Z (z == a); Z is
    /// kept only for element-wise slots in training, so layer-wise rows work in place on A (which holds Z).
    func forward(rows: Int, training: Bool, pass: UInt32, rowOffset: Int) throws {
        let rowsPad = rowTilesPad(rows), tile = layout.tile
        for l in 0..<spec.layerCount {
            let (ain, ainC, inStride) = inputOf(layer: l)
            let out = layout.paddedWidths[l + 1]
            let zl = training ? z[l] : a[l]
            let shape = gemm.launchShape(columnTiles: out / tile.columns, rowTiles: rowsPad / tile.rows, candidates: count)
            try launch(forwardKernel, global: shape.global, local: shape.local,
                ain, Int32(ainC), Int32(inStride), Int32(spec.widths[l]),
                params, Int32(layout.parameterStride), Int32(layout.weightOffsets[l]), Int32(out), Int32(spec.widths[l + 1]),
                zl, a[l], Int32(layout.activationStride(layer: l)), Int32(rows),
                activationIDs, Int32(spec.slot(ofLayer: l) ?? -1), Int32(slots), Int32(layout.activationParameterOffset),
                seeds, pass, Int32(training ? 1 : 0), Int32(l), Int32(rowOffset),
                status, skipFrozen(training))
            if layerwiseLayers.contains(l) {
                try launch(layerwiseForwardKernel,
                    global: [rowsPad, count],
                    a[l], a[l], Int32(out), Int32(layout.activationStride(layer: l)), Int32(spec.widths[l + 1]), Int32(rows),
                    activationIDs, Int32(spec.slot(ofLayer: l)!), Int32(slots), seeds, pass, Int32(l), Int32(rowOffset),
                    status, skipFrozen(training))
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

    /// The kernels' skip_frozen flag: training always skips frozen candidates, evaluation when asked to.
    private func skipFrozen(_ training: Bool) -> Int32 { training || evaluationSkipsFrozen ? 1 : 0 }

    /// The activations feeding layer `l`: buffer, candidate stride, row stride.
    private func inputOf(layer l: Int) -> (DeviceBuffer<Float>, Int, Int) {
        l == 0 ? (input, 0, layout.paddedWidths[0]) : (a[l - 1], layout.activationStride(layer: l - 1), layout.paddedWidths[l])
    }

    /// Per-row losses and hits of the current batch, summed into `metrics`; in training also dZ of the
    /// last layer and the divergence check.
    func loss(rows: Int, training: Bool, pass: UInt32, metrics: DeviceBuffer<Float>) throws {
        let rowsPad = rowTilesPad(rows), L = spec.layerCount - 1
        let slot = spec.slot(ofLayer: L)
        let partOff = slot != nil ? layout.partialLayout[L].offset : 0
        try launch(lossKernel,
            global: [rowsPad, count],
            a[L], z[L], Int32(layout.paddedWidths[L + 1]), Int32(layout.activationStride(layer: L)),
            Int32(spec.classCount), Int32(rows), batchLabels, Float(1.0 / Double(rows)),
            rowLoss, rowHit, Int32(layout.capacityRows),
            Int32(training ? 1 : 0), dz[L % 2],
            params, Int32(layout.parameterStride), Int32(layout.activationParameterOffset),
            activationIDs, parameterCounts, Int32(slot ?? -1), Int32(slots),
            partials, Int32(layout.partialStride), Int32(partOff),
            seeds, pass, Int32(L), status, skipFrozen(training), Int32(1))
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
            try launch(backwardDataKernel, global: shape.global, local: shape.local,
                dz[l % 2], Int32(outPad), Int32(dzC), Int32(spec.widths[l + 1]),
                mirror, Int32(layout.mirrorStride), Int32(layout.mirrorOffsets[l]), Int32(inPad), Int32(spec.widths[l]),
                z[l - 1], dz[(l - 1) % 2], Int32(layout.activationStride(layer: l - 1)), Int32(rows),
                params, Int32(layout.parameterStride), Int32(layout.activationParameterOffset),
                activationIDs, parameterCounts, Int32(prevSlot ?? -1), Int32(slots),
                partials, Int32(layout.partialStride), Int32(prevSlot != nil ? layout.partialLayout[l - 1].offset : 0),
                seeds, pass, Int32(l - 1), status)
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
        let (ain, ainC, inStride) = inputOf(layer: l)
        let outPad = layout.paddedWidths[l + 1], tile = layout.tile
        let shape = gemm.launchShape(columnTiles: outPad / tile.columns, rowTiles: (spec.widths[l] + tile.rows - 1) / tile.rows,
                                     candidates: count)
        try launch(backwardWeightsKernel, global: shape.global, local: shape.local,
            ain, Int32(ainC), Int32(inStride), Int32(spec.widths[l]),
            dz, Int32(dzCandidateStride), Int32(outPad), Int32(spec.widths[l + 1]), Int32(rows),
            grads, Int32(layout.parameterStride), Int32(layout.weightOffsets[l]), status)
    }

    /// Adam or SGD over every parameter of every active candidate. `step`: every candidate's own optimiser
    /// step (from 0), unless `slotSteps` gives one per slot (a pool whose slots were refilled at other times).
    func optimizerStep(step: Int, config: TrainingConfig) throws {
        let steps = slotSteps ?? Array(repeating: step, count: count)
        try stepArgs.upload(steps.prefix(count).flatMap { t -> [Float] in
            let (a, b) = config.optimizer.stepArguments(learningRate: config.learningRate, step: max(t, 0))
            return [a, b]
        })
        switch config.optimizer {
        case .adam(let b1, let b2, let eps):
            try launch(updateKernel,
                global: [layout.parameterStride, count],
                params, grads, moment1, moment2, mirror, Int32(layout.parameterStride), Int32(layout.mirrorStride),
                weightLayout, Int32(spec.layerCount), stepArgs, Float(b1), Float(b2), Float(eps), status)
        case .sgd(let momentum):
            try launch(updateKernel,
                global: [layout.parameterStride, count],
                params, grads, moment1, mirror, Int32(layout.parameterStride), Int32(layout.mirrorStride),
                weightLayout, Int32(spec.layerCount), stepArgs, Float(momentum), status)
        }
    }

    /// Evaluation-mode loss sums and hits of every candidate on a split, in blocks of the row capacity.
    func evaluate(split name: String) throws -> [(lossSum: Double, hits: Double)] {
        let rows = splits[name]!.rows
        try evalMetrics.fill(0)
        for start in stride(from: 0, to: rows, by: layout.capacityRows) {
            let n = min(layout.capacityRows, rows - start)
            try gather(split: name, start: start, rows: n, useOrder: false)
            try forward(rows: n, training: false, pass: NoiseKey.evaluationPass, rowOffset: start)
            try loss(rows: n, training: false, pass: NoiseKey.evaluationPass, metrics: evalMetrics)
        }
        let m = try evalMetrics.download()
        return (0..<count).map { (Double(m[2 * $0]), Double(m[2 * $0 + 1])) }
    }
}
