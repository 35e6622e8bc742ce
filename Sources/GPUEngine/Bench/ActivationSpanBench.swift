import Foundation
import Kernels

/// What each function of a menu costs the fused training pass, alone: the tile-sized spans of
/// `kernels/bench_spans.cl` (the trainer's own span helpers, compiled into the trainer's program for the
/// menu) timed per function, in nanoseconds per element per compute unit, the copy that feeds them subtracted.
/// A study's activation time is these costs times the elements its layers hold (rows × units × layers per
/// epoch), so they say how much of a study the menu's functions are, and which of them to make faster.
public struct ActivationSpanBench {
    public struct Cost: Sendable, Codable, Equatable {
        public var name: String
        public var expression: String
        /// The path the fused training pass takes for it: "slopes" (value and act'(Z) in one loop),
        /// "kept Z" (learnable parameters or noise: the value, then the backward's act'(Z) and parameter
        /// partials) or "layer-wise" (softmax family: each row forward and backward).
        public var path: String
        /// Training: forward value (and slope) plus the backward's share that depends on the function.
        public var trainNanoseconds: Double
        /// Evaluation: the forward value alone.
        public var evaluateNanoseconds: Double

        public init(name: String, expression: String, path: String, trainNanoseconds: Double, evaluateNanoseconds: Double) {
            self.name = name
            self.expression = expression
            self.path = path
            self.trainNanoseconds = trainNanoseconds
            self.evaluateNanoseconds = evaluateNanoseconds
        }
    }

    public struct Result: Sendable, Codable {
        public var device: String
        /// Elements per span (one TM × TN tile of the trainer).
        public var spanElements: Int
        /// The copy that refills a span before each pass, per element and compute unit (subtracted above).
        public var copyNanoseconds: Double
        public var costs: [Cost]
        /// The menu's mean, each function equally likely (as study 1's random search draws them).
        public var meanTrainNanoseconds: Double { costs.isEmpty ? 0 : costs.map(\.trainNanoseconds).reduce(0, +) / Double(costs.count) }
        public var meanEvaluateNanoseconds: Double { costs.isEmpty ? 0 : costs.map(\.evaluateNanoseconds).reduce(0, +) / Double(costs.count) }
    }

    /// A timed function whose values are not the reference's: its time would measure something else.
    public struct Mismatch: Error, CustomStringConvertible {
        public var name: String, x: Float, value: Float, reference: Float
        public var description: String { "bench activations: \(name) gives \(value) at x = \(x), the Swift reference \(reference)" }
    }

    public let device: ComputeDevice
    public var repetitions = 5
    /// Span passes per work-item and launch: enough that a launch lasts tens of milliseconds on a CPU.
    public var passes = 2000

    public init(device: ComputeDevice) { self.device = device }

    /// Times every function of `menu` (name, expression) in the trainer's program for study 1's network shape
    /// (hidden layers of 64) under the CPU profile, whose fused pass these spans are; any other tile is an error.
    /// `progress` sees each cost as it is measured.
    public func measure(menu: [(name: String, expression: ActivationExpr)],
                        progress: (Cost) -> Void = { _ in }) throws -> Result {
        guard !menu.isEmpty else { throw TrainerError.invalidConfig("bench activations: the menu is empty") }
        let trainer = PopulationTrainer(device: device)
        let (profile, tile, gemm) = try trainer.tuning(widths: [64, 64, 64, 10])
        guard tile.columns == 64 else {
            throw TrainerError.invalidConfig("bench activations times the CPU profile's fused pass, whose tiles are 64 columns wide; "
                + "under the \(profile.rawValue) profile this device's tile is \(tile) (a GPU, or AFSEARCH_PROFILE=gpu)")
        }
        let expressions = menu.map(\.expression)
        let pop = try PopulationProgram(candidates: [], tile: tile, activationSource: trainer.activationSource,
                                        vocabulary: expressions)
        let program = try device.program(source: pop.source + "\n" + KernelTemplates.bench_spans,
                                         options: gemm.buildOptions(after: profile.buildOptions), cache: trainer.cache)
        let kernel = try program.kernel("bench_spans")

        let n = tile.rows * tile.columns
        let units = max(1, device.info.computeUnits)
        let workItems = 4 * units
        let source = (0..<n).map { i -> Float in
            // Pre-activations as a trained layer sees them: standard normal (Box–Muller on the counter RNG).
            let u1 = CounterRNG.uniform(seed: 0x5EED, stream: 0, counter: UInt64(2 * i))
            let u2 = CounterRNG.uniform(seed: 0x5EED, stream: 0, counter: UInt64(2 * i + 1))
            return Float((-2 * log(1 - u1)).squareRoot() * cos(2 * Double.pi * u2))
        }
        let src = try device.buffer(source)
        let work = try device.buffer(Float.self, count: workItems * n)
        let aux = try device.buffer(Float.self, count: workItems * n)
        let sink = try device.buffer(Float.self, count: workItems)
        let kmax = max(pop.kmax, 1)

        /// A function's parameters (its initial values, padded to the program's count), uploaded once for its launches.
        struct Parameters { let count: Int32; let buffer: DeviceBuffer<Float> }
        func upload(_ values: [Float]) throws -> Parameters {
            Parameters(count: Int32(values.count), buffer: try device.buffer(values + Array(repeating: 0, count: kmax - values.count)))
        }
        let none = try upload([])
        func pass(mode: Int, id: Int32, parameters: Parameters, passes: Int) throws {
            try kernel.launch(global: [workItems], local: [1], args: Int32(mode), id, parameters.count, Int32(n),
                              Int32(passes), src, work, aux, parameters.buffer, sink)
            try device.finish()
        }
        func seconds(mode: Int, id: Int32, parameters: Parameters) throws -> Double {
            func launch() throws { try pass(mode: mode, id: id, parameters: parameters, passes: passes) }
            try launch()
            var best = Double.infinity
            for _ in 0..<max(1, repetitions) {
                let start = DispatchTime.now().uptimeNanoseconds
                try launch()
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            }
            return best
        }
        // Nanoseconds per element per compute unit.
        let perElement = 1e9 * Double(units) / Double(workItems * passes * n)
        let copy = try seconds(mode: 0, id: -1, parameters: none) * perElement

        var costs: [Cost] = []
        for (name, e) in menu {
            let parameters = e.isLayerwise ? none : try upload(e.parameters.map { Float($0.initial) })
            let train: Double, evaluate: Double, path: String
            if case .layerwise(let op) = e {
                let code = PopulationProgram.layerwiseCode(op)
                path = "layer-wise"
                train = try seconds(mode: 4, id: code, parameters: none) * perElement - copy
                evaluate = try seconds(mode: 5, id: code, parameters: none) * perElement - copy
                if op != .gumbelSoftmax {
                    try pass(mode: 5, id: code, parameters: none, passes: 1)
                    try Self.check(name, e, inputs: source, values: try work.download(0..<n), rowWidth: tile.columns)
                }
            } else if let index = pop.elementwise.firstIndex(of: e) {
                let slopes = e.parameterCount == 0 && !e.isStochastic
                path = slopes ? "slopes" : "kept Z"
                train = try seconds(mode: slopes ? 1 : 3, id: Int32(index), parameters: parameters) * perElement - copy
                evaluate = try seconds(mode: 2, id: Int32(index), parameters: parameters) * perElement - copy
                // What was timed computes the function: one evaluation pass against the Swift reference.
                try pass(mode: 2, id: Int32(index), parameters: parameters, passes: 1)
                try Self.check(name, e, inputs: source, values: try work.download(0..<n))
            } else {
                // The identity: nothing to apply.
                path = "identity"
                train = 0
                evaluate = 0
            }
            let cost = Cost(name: name, expression: e.description, path: path, trainNanoseconds: train, evaluateNanoseconds: evaluate)
            progress(cost)
            costs.append(cost)
        }
        return Result(device: device.info.name, spanElements: n, copyNanoseconds: copy, costs: costs)
    }

    /// Throws where a device value is not the Double reference's (evaluation mode, initial parameters) within
    /// float rounding: relative 1e-4, absolute 1e-5 near zero (the straight-line functions' bounds are far
    /// tighter), NaN and infinities alike. With `rowWidth`, a layer-wise function over rows that wide.
    static func check(_ name: String, _ e: ActivationExpr, inputs: [Float], values: [Float], rowWidth: Int? = nil) throws {
        let references: [Double]
        if let rowWidth {
            references = stride(from: 0, to: inputs.count, by: rowWidth).flatMap { start in
                e.evaluateRow(inputs[start..<min(start + rowWidth, inputs.count)].map(Double.init))
            }
        } else {
            references = inputs.map { e.evaluate(Double($0)) }
        }
        for ((x, v), r) in zip(zip(inputs, values), references) {
            let reference = Float(r)
            if reference.isNaN && v.isNaN { continue }
            if reference.isInfinite || v.isInfinite {
                if reference == v { continue }
            } else if abs(Double(v) - Double(reference)) <= 1e-5 + 1e-4 * abs(Double(reference)) {
                continue
            }
            throw Mismatch(name: name, x: x, value: v, reference: reference)
        }
    }
}
