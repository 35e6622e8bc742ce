/// Where everything of one CNN candidate lives on the device (layouts in kernels/cnn_layers.cl), for an
/// architecture, an input shape, a tile shape and a micro-batch capacity in images.
///
/// Tensors are the feature maps between layers: tensor 0 is the shared input batch; every conv, pool and
/// Linear layer writes a new one; dropout works in place and flatten is only a change of view (the
/// channels-last map of an image is already one row of H·W·cs floats).
struct CNNPlan {
    struct Tensor {
        var channels: Int, height: Int, width: Int
        /// Floats between consecutive pixels (channels padded to whole tile columns; the input: C).
        var channelStride: Int
        /// The conv or Linear layer (architecture index) whose activation produced it, if any.
        var activatedBy: (layer: Int, slot: Int)?
        var fromPool: Bool = false
        /// A candidate's own copy of the shared input (made by input dropout): nothing flows back into it.
        var isInputCopy: Bool = false
        var imageFloats: Int { height * width * channelStride }
        var pixels: Int { height * width }
    }

    struct ParameterLayer {
        var layer: Int
        var input: Int, output: Int
        /// Rows of WT (device order), output columns (real, padded).
        var k: Int, outputs: Int, outPad: Int
        var weightOffset: Int, mirrorOffset: Int, mirrorRowStride: Int
        var slot: Int?
        /// Conv geometry; nil for a Linear layer.
        var conv: (kh: Int, kw: Int, pad: Int, inChannels: Int)?
    }

    enum Stage {
        case conv(ParameterLayer)
        case linear(ParameterLayer)
        case pool(input: Int, output: Int, layer: Int)
        case dropout(tensor: Int, rate: Double, layer: Int)
        /// Dropout on the shared input batch into a candidate's own copy (`output`).
        case inputDropout(output: Int, rate: Double, layer: Int)
    }

    let architecture: NetworkArchitecture
    let inputShape: [Int]
    let tile: TileShape
    /// Images per micro-batch, rounded up to whole tile rows.
    let capacityImages: Int
    let tensors: [Tensor]
    let stages: [Stage]
    let parameterLayers: [ParameterLayer]
    let parameterStride: Int
    let mirrorStride: Int
    /// Where the learnable activation parameters start in a candidate's block: `slots` × `kmax` floats,
    /// slot s at `activationOffset + s * kmax` (the kernels' AF_KMAX).
    let activationOffset: Int
    let kmax: Int
    /// Over-read slack after each per-candidate block (the GEMM tiles may read a tile past the end).
    static let slack = 64

    init(architecture: NetworkArchitecture, inputShape: [Int], tile: TileShape, capacityImages: Int, kmax: Int = 0) throws {
        let shapes = try CNNShapes(architecture: architecture, inputShape: inputShape)
        self.architecture = architecture
        self.inputShape = inputShape
        self.tile = tile
        self.capacityImages = (max(capacityImages, 1)).roundedUp(toMultipleOf: tile.rows)
        let tn = tile.columns
        var tensors = [Tensor(channels: inputShape[0], height: inputShape[1], width: inputShape[2], channelStride: inputShape[0])]
        var stages: [Stage] = [], players: [ParameterLayer] = []
        var p = 0, m = 0
        for (i, layer) in architecture.layers.enumerated() {
            let cur = tensors.count - 1, t = tensors[cur], out = shapes.outputs[i]
            switch layer {
            case .conv(let kh, let kw, let oc, let pad, let slot):
                let k = kh * kw * t.channels, outPad = oc.roundedUp(toMultipleOf: tn)
                let mPad = (k + tn).roundedUp(toMultipleOf: 16)
                let pl = ParameterLayer(layer: i, input: cur, output: cur + 1, k: k, outputs: oc, outPad: outPad,
                                        weightOffset: p, mirrorOffset: m, mirrorRowStride: mPad, slot: slot,
                                        conv: (kh, kw, pad, t.channels))
                p += k * outPad + outPad
                m += oc * mPad
                tensors.append(Tensor(channels: oc, height: out.h, width: out.w, channelStride: outPad,
                                      activatedBy: slot.map { (i, $0) }))
                players.append(pl)
                stages.append(.conv(pl))
            case .maxPool:
                tensors.append(Tensor(channels: t.channels, height: out.h, width: out.w, channelStride: t.channelStride, fromPool: true))
                stages.append(.pool(input: cur, output: cur + 1, layer: i))
            case .dropout(let rate) where cur == 0:
                guard rate > 0 else { break }
                var copy = t
                copy.isInputCopy = true
                tensors.append(copy)
                stages.append(.inputDropout(output: cur + 1, rate: rate, layer: i))
            case .dropout(let rate):
                if rate > 0 { stages.append(.dropout(tensor: cur, rate: rate, layer: i)) }
            case .flatten:
                break
            case .linear(let n, let slot):
                let k = t.pixels == 1 ? t.channels : t.imageFloats
                let outPad = Self.rowStride(n, tn)
                let mStride = t.pixels == 1 ? t.channelStride : t.imageFloats
                let pl = ParameterLayer(layer: i, input: cur, output: cur + 1, k: k, outputs: n, outPad: outPad,
                                        weightOffset: p, mirrorOffset: m, mirrorRowStride: mStride.roundedUp(toMultipleOf: tn),
                                        slot: slot, conv: nil)
                p += k * outPad + outPad
                m += n * pl.mirrorRowStride
                tensors.append(Tensor(channels: n, height: 1, width: 1, channelStride: outPad, activatedBy: slot.map { (i, $0) }))
                players.append(pl)
                stages.append(.linear(pl))
            }
        }
        self.tensors = tensors
        self.stages = stages
        parameterLayers = players
        activationOffset = p
        self.kmax = kmax
        p += architecture.slotCount * kmax
        parameterStride = p.roundedUp(toMultipleOf: 16)
        mirrorStride = (max(m, 1)).roundedUp(toMultipleOf: 16)
    }


    /// Padded width of a Linear layer's outputs (its WT rows and its output rows): whole tile columns, one
    /// more tile when the row would be a multiple of 4 KiB. With such a stride every row of a work-item's
    /// column strip of WT falls into the same few cache sets, and the strip (K rows; 1600 for study 2's
    /// fc1000) evicts itself instead of staying in cache across the row tiles.
    static func rowStride(_ n: Int, _ tn: Int) -> Int {
        let w = n.roundedUp(toMultipleOf: tn)
        return (w * 4) % 4096 == 0 ? w + tn : w
    }

    /// Floats of tensor `t` for one candidate (a whole micro-batch, plus slack).
    func tensorFloats(_ t: Int) -> Int { capacityImages * tensors[t].imageFloats + Self.slack }

    /// Whether the backward pass computes tensor t's gradient (not for the input or a copy of it).
    func needsGradient(_ t: Int) -> Bool { t > 0 && !tensors[t].isInputCopy }

    var classCount: Int { parameterLayers.last!.outputs }
    var logits: Int { tensors.count - 1 }

    /// Device bytes one candidate needs: params, grads, two moments, the accumulation scratch and the
    /// mirror; per tensor its values, pre-activations (activated layers), gradients and pool argmax bytes.
    var bytesPerCandidate: Int {
        var floats = 5 * parameterStride + mirrorStride + 2 * capacityImages + 8
        for t in 1..<tensors.count {
            floats += tensorFloats(t) * (tensors[t].activatedBy != nil ? 3 : 2)
            if tensors[t].fromPool { floats += tensorFloats(t) / 4 + 1 }
        }
        return 4 * floats
    }

    var largestBufferBytesPerCandidate: Int {
        4 * max(parameterStride, (1..<tensors.count).map(tensorFloats).max() ?? 0)
    }

    /// Device index k of a Linear layer's input → PyTorch's flattened input index (nil: a padded channel).
    func torchInputIndex(_ pl: ParameterLayer, k: Int) -> Int? {
        let t = tensors[pl.input]
        if t.pixels == 1 { return k }
        let pixel = k / t.channelStride, ch = k % t.channelStride
        return ch < t.channels ? ch * t.pixels + pixel : nil
    }

    /// One candidate's weights and activation parameters (per slot) in the device layout (params block
    /// without moments) and its mirror.
    func pack(_ w: CNNWeights, activationParameters: [[Float]] = []) -> (params: [Float], mirror: [Float]) {
        var params = [Float](repeating: 0, count: parameterStride)
        for (s, values) in activationParameters.enumerated() {
            for (k, v) in values.prefix(kmax).enumerated() { params[activationOffset + s * kmax + k] = v }
        }
        var mirror = [Float](repeating: 0, count: mirrorStride)
        for (pl, layer) in zip(parameterLayers, w.layers) {
            for o in 0..<pl.outputs {
                for k in 0..<pl.k {
                    guard let src = torchIndex(pl, o: o, k: k, inputs: layer.fanIn) else { continue }
                    params[pl.weightOffset + k * pl.outPad + o] = layer.weight[src]
                    mirror[pl.mirrorOffset + o * pl.mirrorRowStride + k] = layer.weight[src]
                }
                params[pl.weightOffset + pl.k * pl.outPad + o] = layer.bias[o]
            }
        }
        return (params, mirror)
    }

    func unpack(_ params: ArraySlice<Float>) -> CNNWeights {
        let base = params.startIndex
        let shapes = (try? CNNShapes(architecture: architecture, inputShape: inputShape).parameterShapes) ?? []
        return CNNWeights(layers: zip(parameterLayers, shapes).map { pl, s in
            let fanIn = s.shape.dropFirst().reduce(1, *)
            var weight = [Float](repeating: 0, count: pl.outputs * fanIn)
            for o in 0..<pl.outputs {
                for k in 0..<pl.k {
                    guard let dst = torchIndex(pl, o: o, k: k, inputs: fanIn) else { continue }
                    weight[dst] = params[base + pl.weightOffset + k * pl.outPad + o]
                }
            }
            let bias = (0..<pl.outputs).map { params[base + pl.weightOffset + pl.k * pl.outPad + $0] }
            return CNNWeights.Layer(index: s.index, shape: s.shape, weight: weight, bias: bias)
        })
    }

    /// A candidate's activation parameters from its params block, `counts[s]` values for slot s.
    func activationParameters(_ params: ArraySlice<Float>, counts: [Int]) -> [[Float]] {
        counts.enumerated().map { s, n in (0..<n).map { params[params.startIndex + activationOffset + s * kmax + $0] } }
    }

    /// PyTorch flat index of weight (o, device row k); conv rows are k = (kh·KW + kw)·IC + ic.
    private func torchIndex(_ pl: ParameterLayer, o: Int, k: Int, inputs: Int) -> Int? {
        if let cv = pl.conv {
            let ic = k % cv.inChannels, q = k / cv.inChannels, kh = q / cv.kw, kw = q % cv.kw
            return ((o * cv.inChannels + ic) * cv.kh + kh) * cv.kw + kw
        }
        return torchInputIndex(pl, k: k).map { o * inputs + $0 }
    }

    /// The optimiser's layer table (adam_update's mirror copy), a row per parameter layer.
    var updateTable: [UpdateLayerRow] {
        parameterLayers.map {
            UpdateLayerRow(weightOffset: $0.weightOffset, inputs: $0.k, outputPad: $0.outPad, mirrorOffset: $0.mirrorOffset,
                           outputs: $0.outputs, mirrorRowStride: $0.mirrorRowStride)
        }
    }
}
