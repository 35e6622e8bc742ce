import Foundation
import Datasets

/// What a population of networks keeps on the device, whatever the network: the state both trainers'
/// sessions (`TrainingSession` for MLPs, `CNNSession`) inherit, and the launcher they launch through.
///
/// Per candidate, in slices of one buffer each: its parameters (weights, biases, learnable activation
/// parameters, `parameterStride` floats), the transposed copy of its weights the backward pass reads
/// (`mirror`), gradients, the optimiser's moments, its status (0 training, 1 frozen: stopped or an empty
/// slot, 2 diverged), its row of activation ids and parameter counts (`slots` each), its noise seed and
/// entry pass, its training and evaluation metric sums. Shared: the device copies of the splits, the labels
/// of the current batch and the epoch's shuffle order. Everything a candidate carries from step to step is in
/// its slices here (the sessions' activation buffers are rewritten by every step before they are read), so
/// `fill(slot:)` and `move(slot:to:)` are all a slot pool needs.
class PopulationState {
    let device: ComputeDevice
    /// Candidates the buffers hold.
    let capacity: Int
    /// Candidates the launches cover (the first `count` of `capacity`); a `PopulationPool` lowers it when its
    /// last candidates are left in the low slots, so stragglers do not pay for empty slots.
    var count: Int
    /// Activation slots per candidate.
    let slots: Int
    let parameterStride, mirrorStride: Int

    let params, grads, moment1, moment2, mirror: DeviceBuffer<Float>
    /// Per candidate and row of the current batch: loss and hit, summed by the metric reduction.
    let rowLoss, rowHit: DeviceBuffer<Float>
    /// Per candidate: loss sum and hits (2 floats) of the epoch's training pass, and of an evaluation pass.
    let trainMetrics, evalMetrics: DeviceBuffer<Float>
    let status: DeviceBuffer<Int32>
    let activationIDs, parameterCounts: DeviceBuffer<Int32>
    /// Per candidate: its 32-bit noise seed and the pass at which it entered (`NoiseKey.deviceWords`).
    let seeds: DeviceBuffer<UInt32>
    /// The optimiser's per-candidate step arguments (`Optimizer.stepArguments`), 2 floats per candidate.
    let stepArgs: DeviceBuffer<Float>
    /// The optimiser kernels' layer table (`UpdateLayerRow`, kernels/adam_update.cl) and its row count.
    let updateLayout: DeviceBuffer<Int32>
    let updateLayers: Int
    /// Labels of the current batch (`rowCapacity` rows).
    let batchLabels: DeviceBuffer<Int32>
    /// The epoch's shuffled row order (mini-batch training).
    var order: DeviceBuffer<Int32>?
    /// Device copies of the splits, uploaded once.
    private(set) var splits: [String: (x: DeviceBuffer<Float>, labels: DeviceBuffer<Int32>, rows: Int)] = [:]

    /// Record every launch's event (`TrainingTiming.kernelSeconds`; the trainers' `profileKernels`).
    var profiling = false
    private var events: [KernelEvent] = []
    /// Device seconds per kernel name, summed over the profiled launches.
    private(set) var kernelSeconds: [String: Double] = [:]

    /// `initial`: per candidate its packed parameters and mirror; `ids` / `counts`: its activation row.
    init(device: ComputeDevice, initial: [(params: [Float], mirror: [Float])], seeds seedValues: [UInt32],
         activationIDs ids: [[Int32]], parameterCounts counts: [[Int]], slots: Int, parameterStride: Int,
         mirrorStride: Int, updateTable: [UpdateLayerRow], rowCapacity: Int) throws {
        self.device = device
        let P = initial.count
        capacity = P
        count = P
        self.slots = slots
        self.parameterStride = parameterStride
        self.mirrorStride = mirrorStride
        params = try device.buffer(initial.flatMap(\.params))
        mirror = try device.buffer(initial.flatMap(\.mirror))
        grads = try device.buffer(Float.self, count: P * parameterStride)
        moment1 = try device.buffer(Float.self, count: P * parameterStride)
        moment2 = try device.buffer(Float.self, count: P * parameterStride)
        for b in [grads, moment1, moment2] { try b.fill(0) }
        rowLoss = try device.buffer(Float.self, count: P * rowCapacity)
        rowHit = try device.buffer(Float.self, count: P * rowCapacity)
        trainMetrics = try device.buffer(Float.self, count: 2 * P)
        evalMetrics = try device.buffer(Float.self, count: 2 * P)
        status = try device.buffer([Int32](repeating: 0, count: P))
        activationIDs = try device.buffer(ids.flatMap { $0 } + [0])
        parameterCounts = try device.buffer(counts.flatMap { $0.map(Int32.init) } + [0])
        seeds = try device.buffer(NoiseKey.deviceWords(seed32s: seedValues))
        stepArgs = try device.buffer(Float.self, count: 2 * P)
        updateLayout = try device.buffer(UpdateLayerRow.table(updateTable))
        updateLayers = updateTable.count
        batchLabels = try device.buffer(Int32.self, count: rowCapacity)
    }

    func upload(split name: String, _ data: LabeledData) throws {
        guard splits[name] == nil else { return }
        splits[name] = (try device.buffer(data.features), try device.buffer(data.labels), data.rowCount)
    }

    /// Enqueues `kernel` over `global` in work-groups of `local`, or of `workGroup(for:kernel:)`.
    func launch(_ kernel: ComputeKernel, global: [Int], local: [Int]? = nil, _ args: any KernelArgumentConvertible...) throws {
        try launch(kernel, global: global, local: local, arguments: args)
    }

    func launch(_ kernel: ComputeKernel, global: [Int], local: [Int]? = nil,
                arguments args: [any KernelArgumentConvertible]) throws {
        note(try kernel.launch(global: global, local: local ?? workGroup(for: global, kernel: kernel),
                               arguments: args.map(\.kernelArgument)))
    }

    /// As `launch(_:global:local:_:)`, every argument under its name in the kernel's source (checked).
    func launch(_ kernel: ComputeKernel, global: [Int], local: [Int]? = nil,
                named args: KeyValuePairs<String, any KernelArgumentConvertible>) throws {
        note(try kernel.launch(global: global, local: local ?? workGroup(for: global, kernel: kernel), named: args))
    }

    func launch(_ kernel: ComputeKernel, global: [Int], local: [Int]? = nil,
                named args: [(name: String, value: any KernelArgumentConvertible)]) throws {
        note(try kernel.launch(global: global, local: local ?? workGroup(for: global, kernel: kernel), named: args))
    }

    /// Keeps a launch's event for `collectProfile` when profiling.
    func note(_ event: KernelEvent) {
        if profiling { events.append(event) }
    }

    /// Launch with work-group sizes independent of the candidate count (`workGroup(for:kernel:)`); set under the
    /// CPU profile (`DeviceProfile.fixesWorkGroups`).
    var fixedWorkGroups = false
    /// Kernels whose launches have no candidate dimension (the batch gathers).
    var kernelsWithoutCandidates: [ComputeKernel] = []

    /// The work-group of a launch whose caller gives none: nil (the driver's choice) unless `fixedWorkGroups`.
    /// PoCL compiles a kernel once per work-group size and, left to choose, derives the size from the whole
    /// launch, candidate count included: every generation of an evolution (a new number of networks to train)
    /// compiled every kernel again, seconds each time. Fixed, the size depends only on the layer and batch
    /// shape: the candidate dimension (the last) gets 1, the others the largest divisors within 64 work-items.
    func workGroup(for global: [Int], kernel: ComputeKernel) -> [Int]? {
        guard fixedWorkGroups else { return nil }
        let candidateDimension = kernelsWithoutCandidates.contains { $0 === kernel } ? -1 : global.count - 1
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

    /// Puts a new candidate into slot `k`: its initial parameters and mirror, zero gradients and moments, its
    /// activation row, its seed and the pass at which it enters (its noise and step count start there).
    /// The caller sets the slot's status.
    func fill(slot k: Int, initial: (params: [Float], mirror: [Float]), ids: [Int32], counts: [Int],
              seed32: UInt32, entryPass: UInt32) throws {
        let ps = parameterStride
        try params.upload(initial.params, at: k * ps)
        try mirror.upload(initial.mirror, at: k * mirrorStride)
        for b in [grads, moment1, moment2] { try b.fill(0, k * ps..<(k + 1) * ps) }
        try activationIDs.upload(ids, at: k * slots)
        try parameterCounts.upload(counts.map(Int32.init), at: k * slots)
        try seeds.upload([seed32, entryPass], at: 2 * k)
    }

    /// Copies slot `from`'s candidate into slot `to` (a lower, free one). The caller moves the status.
    func move(slot from: Int, to: Int) throws {
        let ps = parameterStride, ms = mirrorStride
        for b in [params, grads, moment1, moment2] { try b.copy(from: b, sourceOffset: from * ps, to: to * ps, count: ps) }
        try mirror.copy(from: mirror, sourceOffset: from * ms, to: to * ms, count: ms)
        for b in [activationIDs, parameterCounts] { try b.copy(from: b, sourceOffset: from * slots, to: to * slots, count: slots) }
        try seeds.copy(from: seeds, sourceOffset: 2 * from, to: 2 * to, count: 2)
    }

    /// Each slot's own optimiser step when slots were filled at different steps (`PopulationPool`); nil: every
    /// candidate is at the step the session's training step is given.
    var slotSteps: [Int]?
    /// Evaluation passes skip the stopped candidates (a pool's empty slots) instead of running every candidate;
    /// one that diverged in the step before is still evaluated.
    var evaluationSkipsStopped = false

    /// The kernels' skip_frozen flag (`MLP_SKIPS` in mlp_common.cl): 1 in training (only active candidates
    /// run), in evaluation 2 where `evaluationSkipsStopped`, else 0 (every candidate).
    func skipFrozen(_ training: Bool) -> Int32 { training ? 1 : evaluationSkipsStopped ? 2 : 0 }

    /// The optimiser step of each candidate the launches cover: `step`, or its own (`slotSteps`).
    func candidateSteps(_ step: Int) -> [Int] {
        Array((slotSteps ?? Array(repeating: step, count: count)).prefix(count))
    }

    /// `stepArgs` for the optimiser kernels: per candidate `Optimizer.stepArguments` at its own step.
    func uploadStepArguments(steps: [Int], config: TrainingConfig) throws {
        try stepArgs.upload(steps.flatMap { t -> [Float] in
            let (a, b) = config.optimizer.stepArguments(learningRate: config.learningRate, step: max(t, 0))
            return [a, b]
        })
    }

    /// SGD (`sgd_update`, the kernel object of the caller's program) over every parameter of every active
    /// candidate, each at its own step in `steps`, the mirror copied through `updateLayout`.
    func sgdStep(_ kernel: ComputeKernel, steps: [Int], config: TrainingConfig, momentum: Double) throws {
        try uploadStepArguments(steps: steps, config: config)
        try launch(kernel, global: [parameterStride, count], named: [
            "params": params, "grads": grads, "buf": moment1, "mirror": mirror, "pstride": Int32(parameterStride),
            "mstride": Int32(mirrorStride), "wlayout": updateLayout, "layers": Int32(updateLayers), "step_args": stepArgs,
            "momentum": Float(momentum), "status": status])
    }

    /// Loss sums and hits per candidate from a metrics buffer (2 floats each).
    func metricSums(_ metrics: DeviceBuffer<Float>) throws -> [(lossSum: Double, hits: Double)] {
        let m = try metrics.download()
        return (0..<count).map { (Double(m[2 * $0]), Double(m[2 * $0 + 1])) }
    }
}
