import Foundation
import Kernels

/// One CNN candidate in Double, NCHW, loop by loop: the reference for the OpenCL CNN trainer and the
/// subject of the finite-difference tests. Weights are PyTorch's layouts (`CNNWeights`). Dropout draws
/// the device's masks (`DropoutMask`); RReLU uses its mean slope (see `ScalarActivation`). A Linear
/// layer's slot may hold a layer-wise function (softmax family, over the layer's outputs; Gumbel noise
/// from the device's keys); any slot may have learnable parameters (one set per slot, shared by every
/// element and every layer using the slot).
struct ReferenceCNN {
    let architecture: NetworkArchitecture
    let inputShape: [Int]
    let shapes: CNNShapes
    let slots: [ReferenceSlotActivation]
    /// Per parametrised layer, PyTorch order.
    var weights: [[Double]]
    var biases: [[Double]]
    /// Learnable activation parameters per slot, in the order `ScalarActivation.parameterNames` lists them.
    var parameters: [[Double]]
    let seed: UInt64

    init(architecture: NetworkArchitecture, inputShape: [Int], activations: [ActivationExpr], weights w: CNNWeights, seed: UInt64,
         parameters: [[Double]]? = nil) throws {
        self.architecture = architecture
        self.inputShape = inputShape
        shapes = try CNNShapes(architecture: architecture, inputShape: inputShape)
        slots = try activations.map(ReferenceSlotActivation.init)
        for case .conv(_, _, _, _, let slot?) in architecture.layers {
            if slot < slots.count, case .layerwise = slots[slot] {
                throw TrainerError.invalidSpec("slot \(slot) activates a convolution: layer-wise functions only apply to Linear layers")
            }
        }
        weights = w.layers.map { $0.weight.map(Double.init) }
        biases = w.layers.map { $0.bias.map(Double.init) }
        self.parameters = parameters ?? slots.map { s in
            if case .elementwise(let f) = s { return f.initialParameters }
            return []
        }
        self.seed = seed
    }

    /// Values after each layer (`values[0]` the input, `values[i+1]` after layer i), pre-activations of
    /// activated layers, pool argmaxes (0..3 per pooled element).
    struct Tape {
        var values: [[Double]] = []
        var pre: [[Double]?] = []
        var argmax: [[Int]?] = []
    }

    struct Gradients {
        var weights: [[Double]]
        var biases: [[Double]]
        var parameters: [[Double]]
        var input: [Double]
    }

    private func shape(before i: Int) -> (c: Int, h: Int, w: Int) {
        i == 0 ? (inputShape[0], inputShape[1], inputShape[2]) : shapes.outputs[i - 1]
    }

    /// The activation of a layer's pre-activations `z` (rows of `width`): element-wise, or row by row.
    private func activate(_ slot: Int?, _ z: [Double], width: Int, layer: Int, pass: UInt32) -> [Double] {
        guard let slot else { return z }
        switch slots[slot] {
        case .elementwise(let f):
            return z.map { (try? f.evaluate($0, parameters: parameters[slot]).value) ?? .nan }
        case .layerwise(let op):
            let base = NoiseKey.passBase(seed32: NoiseKey.seed32(seed), pass: pass)
            var y = z
            for r in 0..<(z.count / width) {
                let range = (r * width)..<((r + 1) * width)
                let noise = op == .gumbelSoftmax
                    ? (0..<width).map { NoiseKey.gumbel(key: NoiseKey.elementKey(base: base, layer: layer, row: r, column: $0)) } : nil
                y.replaceSubrange(range, with: ReferenceMLP.layerwise(op, Array(z[range]), noise: noise))
            }
            return y
        }
    }

    /// dL/dz from dL/dy through a layer's activation; element-wise slots add dL/dp into `gp[slot]`.
    private func activationBackward(_ slot: Int?, z: [Double], y: [Double], dy: [Double], width: Int, gp: inout [[Double]]) -> [Double] {
        guard let slot else { return dy }
        switch slots[slot] {
        case .elementwise(let f):
            var dz = dy
            for k in z.indices {
                guard let e = try? f.evaluate(z[k], parameters: parameters[slot]) else { dz[k] = .nan; continue }
                dz[k] = dy[k] * e.dx
                for j in e.dp.indices { gp[slot][j] += dy[k] * e.dp[j] }
            }
            return dz
        case .layerwise(let op):
            var dz = dy
            for r in 0..<(z.count / width) {
                let range = (r * width)..<((r + 1) * width)
                dz.replaceSubrange(range, with: ReferenceMLP.layerwiseBackward(op, y: Array(y[range]), dy: Array(dy[range])))
            }
            return dz
        }
    }

    func forward(_ x: [Double], images: Int, training: Bool, pass: UInt32) -> Tape {
        var tape = Tape()
        tape.values.append(x)
        var p = 0
        for (i, layer) in architecture.layers.enumerated() {
            let (c, h, w) = shape(before: i), out = shapes.outputs[i]
            let input = tape.values[i]
            var y = [Double](repeating: 0, count: images * out.c * out.h * out.w)
            var pre: [Double]? = nil, arg: [Int]? = nil
            switch layer {
            case .conv(let kh, let kw, let oc, let pad, let slot):
                var z = y
                let W = weights[p], b = biases[p]
                for n in 0..<images { for o in 0..<oc { for oy in 0..<out.h { for ox in 0..<out.w {
                    var s = b[o]
                    for ic in 0..<c { for u in 0..<kh { for v in 0..<kw {
                        let iy = oy + u - pad, ix = ox + v - pad
                        guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                        s += W[((o * c + ic) * kh + u) * kw + v] * input[((n * c + ic) * h + iy) * w + ix]
                    } } }
                    z[((n * oc + o) * out.h + oy) * out.w + ox] = s
                } } } }
                y = activate(slot, z, width: out.h * out.w * images * oc, layer: i, pass: pass)
                pre = z
                p += 1
            case .maxPool:
                var a = [Int](repeating: 0, count: y.count)
                for n in 0..<images { for ch in 0..<c { for py in 0..<out.h { for px in 0..<out.w {
                    let at = { (k: Int) -> Double in
                        let iy: Int = 2 * py + k / 2, ix: Int = 2 * px + k % 2
                        return input[((n * c + ch) * h + iy) * w + ix]
                    }
                    var best = at(0), bi = 0
                    for k in 1..<4 where at(k) > best { best = at(k); bi = k }
                    let o = ((n * c + ch) * out.h + py) * out.w + px
                    y[o] = best
                    a[o] = bi
                } } } }
                arg = a
            case .flatten:
                y = input
            case .dropout(let rate):
                y = input
                if training && rate > 0 {
                    let f = c * h * w, scale = Double(Float(1 / (1 - rate)))
                    for n in 0..<images { for j in 0..<f {
                        let keep = DropoutMask.keep(seed: seed, pass: pass, layer: i, row: n, index: j, rate: rate)
                        y[n * f + j] = keep ? input[n * f + j] * scale : 0
                    } }
                }
            case .linear(let no, let slot):
                let ni = c * h * w, W = weights[p], b = biases[p]
                var z = y
                for n in 0..<images { for o in 0..<no {
                    var s = b[o]
                    for k in 0..<ni { s += W[o * ni + k] * input[n * ni + k] }
                    z[n * no + o] = s
                } }
                y = activate(slot, z, width: no, layer: i, pass: pass)
                pre = z
                p += 1
            }
            tape.values.append(y)
            tape.pre.append(pre)
            tape.argmax.append(arg)
        }
        return tape
    }

    /// Sum of the rows' cross-entropies and hits.
    static func lossAndHits(logits: [Double], labels: [Int32], classes: Int) -> (loss: Double, hits: Double, dlogits: [Double]) {
        var loss = 0.0, hits = 0.0
        var d = [Double](repeating: 0, count: logits.count)
        for n in 0..<labels.count {
            let row = Array(logits[(n * classes)..<((n + 1) * classes)])
            let m = row.max()!
            let lse = m + log(row.reduce(0) { $0 + exp($1 - m) })
            let y = Int(labels[n])
            loss += lse - row[y]
            if row.firstIndex(of: m)! == y { hits += 1 }
            for k in 0..<classes { d[n * classes + k] = exp(row[k] - lse) - (k == y ? 1 : 0) }
        }
        return (loss, hits, d)
    }

    /// Gradients of `lossScale` · (sum of the rows' cross-entropies) through a recorded forward pass.
    func backward(_ tape: Tape, labels: [Int32], images: Int, lossScale: Double, pass: UInt32) -> Gradients {
        var gw = weights.map { [Double](repeating: 0, count: $0.count) }
        var gb = biases.map { [Double](repeating: 0, count: $0.count) }
        var gp = parameters.map { [Double](repeating: 0, count: $0.count) }
        let classes = architecture.classCount
        var g = Self.lossAndHits(logits: tape.values.last!, labels: labels, classes: classes).dlogits.map { $0 * lossScale }
        var p = weights.count
        for (i, layer) in architecture.layers.enumerated().reversed() {
            let (c, h, w) = shape(before: i), out = shapes.outputs[i]
            let input = tape.values[i]
            var gin = [Double](repeating: 0, count: input.count)
            switch layer {
            case .conv(let kh, let kw, let oc, let pad, let slot):
                p -= 1
                let z = tape.pre[i]!, W = weights[p]
                let dzs = activationBackward(slot, z: z, y: tape.values[i + 1], dy: g, width: z.count, gp: &gp)
                for n in 0..<images { for o in 0..<oc { for oy in 0..<out.h { for ox in 0..<out.w {
                    let at = ((n * oc + o) * out.h + oy) * out.w + ox
                    let dz = dzs[at]
                    gb[p][o] += dz
                    for ic in 0..<c { for u in 0..<kh { for v in 0..<kw {
                        let iy = oy + u - pad, ix = ox + v - pad
                        guard iy >= 0, iy < h, ix >= 0, ix < w else { continue }
                        let wi = ((o * c + ic) * kh + u) * kw + v, xi = ((n * c + ic) * h + iy) * w + ix
                        gw[p][wi] += dz * input[xi]
                        gin[xi] += dz * W[wi]
                    } } }
                } } } }
            case .maxPool:
                let arg = tape.argmax[i]!
                for n in 0..<images { for ch in 0..<c { for py in 0..<out.h { for px in 0..<out.w {
                    let o: Int = ((n * c + ch) * out.h + py) * out.w + px
                    let k: Int = arg[o]
                    let iy: Int = 2 * py + k / 2, ix: Int = 2 * px + k % 2
                    let at: Int = ((n * c + ch) * h + iy) * w + ix
                    gin[at] += g[o]
                } } } }
            case .flatten:
                gin = g
            case .dropout(let rate):
                gin = g
                if rate > 0 {
                    let f = c * h * w, scale = Double(Float(1 / (1 - rate)))
                    for n in 0..<images { for j in 0..<f {
                        let keep = DropoutMask.keep(seed: seed, pass: pass, layer: i, row: n, index: j, rate: rate)
                        gin[n * f + j] = keep ? g[n * f + j] * scale : 0
                    } }
                }
            case .linear(let no, let slot):
                p -= 1
                let ni = c * h * w, z = tape.pre[i]!, W = weights[p]
                let dzs = activationBackward(slot, z: z, y: tape.values[i + 1], dy: g, width: no, gp: &gp)
                for n in 0..<images { for o in 0..<no {
                    let dz = dzs[n * no + o]
                    gb[p][o] += dz
                    for k in 0..<ni {
                        gw[p][o * ni + k] += dz * input[n * ni + k]
                        gin[n * ni + k] += dz * W[o * ni + k]
                    }
                } }
            }
            g = gin
        }
        return Gradients(weights: gw, biases: gb, parameters: gp, input: g)
    }
}
