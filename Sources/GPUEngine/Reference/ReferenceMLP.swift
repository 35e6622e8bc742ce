import Foundation
import Kernels

/// Per-element random keys shared bit for bit by the kernels (`af_pass_base`, `af_element_key` in
/// mlp_common.cl) and the reference, so Gumbel-softmax draws the same noise on both.
public enum NoiseKey {
    /// The pass number evaluation uses (training passes are numbered by optimiser step from 0).
    public static let evaluationPass: UInt32 = 0xFFFF_FFFF

    public static func seed32(_ seed: UInt64) -> UInt32 {
        UInt32(truncatingIfNeeded: seed) ^ UInt32(truncatingIfNeeded: seed >> 32)
    }
    /// The kernels' `seeds` buffer (`af_candidate_base` in mlp_common.cl): per candidate its 32-bit seed and
    /// the pass at which it entered its slot (0 unless a `PopulationPool` refilled the slot later).
    static func deviceWords(seed32s: [UInt32], entryPasses: [UInt32]? = nil) -> [UInt32] {
        seed32s.indices.flatMap { [seed32s[$0], entryPasses?[$0] ?? 0] }
    }
    public static func passBase(seed32: UInt32, pass: UInt32) -> UInt32 {
        CounterRNG.mix32(seed32 ^ CounterRNG.mix32(pass &* 0x9E37_79B9 &+ 0x7F4A_7C15))
    }
    /// Never 0: key 0 means evaluation mode to the generated activation code.
    public static func elementKey(base: UInt32, layer: Int, row: Int, column: Int) -> UInt32 {
        var h = CounterRNG.mix32(base ^ (UInt32(layer) &* 0x9E37_79B9))
        h = CounterRNG.mix32(h &+ UInt32(truncatingIfNeeded: row) &* 0x85EB_CA6B)
        h = CounterRNG.mix32(h &+ UInt32(truncatingIfNeeded: column) &* 0xC2B2_AE35)
        return h | 1
    }
    /// RReLU's training slope for the element with this key: U(1/8, 1/3) from 24 bits, as `af_rrelu_slope` draws
    /// it for the expression's node `node` (0 when the slot's expression is rrelu(x) itself).
    public static func rreluSlope(key: UInt32, node: UInt32 = 0) -> Double {
        let h = CounterRNG.mix32(key ^ CounterRNG.mix32(node &* 0x9E37_79B9 &+ 0x632B_E5AB))
        return 0.125 + 0.20833333333333334 * (Double(h >> 8) / 16_777_216)
    }
    /// Gumbel(0, 1) noise −log(−log u) for the element with this key.
    public static func gumbel(key: UInt32) -> Double {
        -log(-log(CounterRNG.openUniform(CounterRNG.mix32(key ^ 0x68E3_1DA4))))
    }
}

/// One candidate network in Double: the plain, loop-by-loop reference for the OpenCL trainer.
/// Matrices are row-major flat arrays; weights are PyTorch's out×in.
struct ReferenceMLP {
    let spec: MLPSpec
    let slots: [ReferenceSlotActivation]
    var weights: [[Double]]
    var biases: [[Double]]
    /// Learnable activation parameters per slot.
    var parameters: [[Double]]
    let seed32: UInt32
    /// Slots whose expression is rrelu(x) itself: in training each element draws its slope from its key
    /// (`NoiseKey.rreluSlope`), as the kernels do. RReLU inside a larger expression keeps the mean slope here.
    let rreluSlots: Set<Int>

    struct Gradients {
        var weights: [[Double]]
        var biases: [[Double]]
        var parameters: [[Double]]
    }

    /// Pre-activations `z[l]` (rows × widths[l+1]) and activations `a[l]` (a[0] is the input).
    struct Pass {
        var z: [[Double]] = []
        var a: [[Double]] = []
    }

    init(spec: MLPSpec, activations: [ActivationExpr], weights w: LinearStackWeights, parameters: [[Double]]?, seed: UInt64) throws {
        self.spec = spec
        slots = try activations.map(ReferenceSlotActivation.init)
        rreluSlots = Set(activations.indices.filter { activations[$0] == .unary(.rrelu, .x) })
        weights = w.layers.map { $0.weight.map(Double.init) }
        biases = w.layers.map { $0.bias.map(Double.init) }
        self.parameters = try parameters ?? activations.map { e in
            if case .layerwise = e { return [] }
            return try ScalarActivation(e).initialParameters
        }
        seed32 = NoiseKey.seed32(seed)
    }

    func forward(_ x: [Double], rows: Int, pass: UInt32) -> Pass {
        var out = Pass()
        out.a.append(x)
        let base = NoiseKey.passBase(seed32: seed32, pass: pass)
        for l in 0..<spec.layerCount {
            let nIn = spec.widths[l], nOut = spec.widths[l + 1]
            let a = out.a[l], w = weights[l], b = biases[l]
            var z = [Double](repeating: 0, count: rows * nOut)
            for r in 0..<rows {
                for o in 0..<nOut {
                    var s = b[o]
                    for i in 0..<nIn { s += a[r * nIn + i] * w[o * nIn + i] }
                    z[r * nOut + o] = s
                }
            }
            var y = z
            if let slot = spec.slot(ofLayer: l) {
                switch slots[slot] {
                case .elementwise where pass != NoiseKey.evaluationPass && rreluSlots.contains(slot):
                    for k in y.indices where z[k] < 0 { y[k] = z[k] * rreluSlope(base: base, layer: l, element: k, width: nOut) }
                case .elementwise(let f):
                    for k in y.indices { y[k] = (try? f.evaluate(z[k], parameters: parameters[slot]).value) ?? .nan }
                case .layerwise(let op):
                    for r in 0..<rows {
                        let row = Array(z[(r * nOut)..<((r + 1) * nOut)])
                        let noise = op == .gumbelSoftmax
                            ? (0..<nOut).map { NoiseKey.gumbel(key: NoiseKey.elementKey(base: base, layer: l, row: r, column: $0)) }
                            : nil
                        y.replaceSubrange((r * nOut)..<((r + 1) * nOut), with: Self.layerwise(op, row, noise: noise))
                    }
                }
            }
            out.z.append(z)
            out.a.append(y)
        }
        return out
    }

    /// The training slope of element `element` (row-major, rows `width` long) of layer `layer`'s RReLU.
    func rreluSlope(base: UInt32, layer: Int, element k: Int, width: Int) -> Double {
        NoiseKey.rreluSlope(key: NoiseKey.elementKey(base: base, layer: layer, row: k / width, column: k % width))
    }

    static func softmax(_ z: [Double]) -> [Double] {
        let m = z.max()!
        let e = z.map { exp($0 - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    static func layerwise(_ op: LayerwiseOp, _ z: [Double], noise: [Double]?) -> [Double] {
        switch op {
        case .softmax: return softmax(z)
        case .softmin: return softmax(z.map { -$0 })
        case .logSoftmax:
            let m = z.max()!
            let lse = m + log(z.reduce(0) { $0 + exp($1 - m) })
            return z.map { $0 - lse }
        case .gumbelSoftmax: return softmax(zip(z, noise!).map(+))
        }
    }

    /// dL/dz of a layer-wise function given its output `y` and dL/dy.
    static func layerwiseBackward(_ op: LayerwiseOp, y: [Double], dy: [Double]) -> [Double] {
        switch op {
        case .softmax, .gumbelSoftmax, .softmin:
            let dot = zip(dy, y).reduce(0) { $0 + $1.0 * $1.1 }
            let sign: Double = op == .softmin ? -1 : 1
            return zip(y, dy).map { sign * $0 * ($1 - dot) }
        case .logSoftmax:
            let total = dy.reduce(0, +)
            return zip(y, dy).map { $1 - exp($0) * total }
        }
    }

    /// Summed cross-entropy over the rows, correct predictions (first maximal logit), and
    /// dL/dlogits for the loss averaged over `lossRows`.
    static func crossEntropy(logits: [Double], labels: [Int32], rows: Int, classes: Int, lossRows: Int)
        -> (lossSum: Double, correct: Int, dLogits: [Double])
    {
        var lossSum = 0.0, correct = 0
        var d = [Double](repeating: 0, count: rows * classes)
        for r in 0..<rows {
            let row = Array(logits[(r * classes)..<((r + 1) * classes)])
            let y = Int(labels[r])
            let m = row.max()!
            let lse = m + log(row.reduce(0) { $0 + exp($1 - m) })
            lossSum += lse - row[y]
            if row.firstIndex(of: m) == y { correct += 1 }
            for k in 0..<classes {
                d[r * classes + k] = (exp(row[k] - lse) - (k == y ? 1 : 0)) / Double(lossRows)
            }
        }
        return (lossSum, correct, d)
    }

    /// Mean loss over the rows, correct count, and the gradients of the mean loss.
    func lossAndGradients(_ x: [Double], labels: [Int32], rows: Int, pass: UInt32) -> (loss: Double, correct: Int, gradients: Gradients) {
        let fw = forward(x, rows: rows, pass: pass)
        let ce = Self.crossEntropy(logits: fw.a[spec.layerCount], labels: labels, rows: rows, classes: spec.classCount, lossRows: rows)
        var g = Gradients(weights: weights.map { $0.map { _ in 0 } }, biases: biases.map { $0.map { _ in 0 } },
                          parameters: parameters.map { $0.map { _ in 0 } })
        var da = ce.dLogits
        for l in stride(from: spec.layerCount - 1, through: 0, by: -1) {
            let nIn = spec.widths[l], nOut = spec.widths[l + 1]
            var dz = da
            if let slot = spec.slot(ofLayer: l) {
                switch slots[slot] {
                case .elementwise where pass != NoiseKey.evaluationPass && rreluSlots.contains(slot):
                    let base = NoiseKey.passBase(seed32: seed32, pass: pass)
                    for k in dz.indices where fw.z[l][k] <= 0 { dz[k] = da[k] * rreluSlope(base: base, layer: l, element: k, width: nOut) }
                case .elementwise(let f):
                    for k in dz.indices {
                        let e = (try? f.evaluate(fw.z[l][k], parameters: parameters[slot])) ?? (.nan, .nan, parameters[slot].map { _ in .nan })
                        dz[k] = da[k] * e.dx
                        for p in e.dp.indices { g.parameters[slot][p] += da[k] * e.dp[p] }
                    }
                case .layerwise(let op):
                    for r in 0..<rows {
                        let range = (r * nOut)..<((r + 1) * nOut)
                        dz.replaceSubrange(range, with: Self.layerwiseBackward(op, y: Array(fw.a[l + 1][range]), dy: Array(da[range])))
                    }
                }
            }
            let a = fw.a[l]
            for r in 0..<rows {
                for o in 0..<nOut {
                    let d = dz[r * nOut + o]
                    g.biases[l][o] += d
                    for i in 0..<nIn { g.weights[l][o * nIn + i] += d * a[r * nIn + i] }
                }
            }
            if l > 0 {
                var prev = [Double](repeating: 0, count: rows * nIn)
                for r in 0..<rows {
                    for i in 0..<nIn {
                        var s = 0.0
                        for o in 0..<nOut { s += dz[r * nOut + o] * weights[l][o * nIn + i] }
                        prev[r * nIn + i] = s
                    }
                }
                da = prev
            }
        }
        return (ce.lossSum / Double(rows), ce.correct, g)
    }
}
