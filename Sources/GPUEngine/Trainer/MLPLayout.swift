/// The register-tile shape of the trainer's GEMM kernels: each work-item computes `rows` × (`vectorWidth`
/// × `vectors`) outputs. It changes speed only, never results: every GEMM output is accumulated in the same
/// order whatever the tile. (The gradient of a learnable activation parameter is a sum of per-tile partial
/// sums, so its last bits do depend on the tile.)
public struct TileShape: Sendable, Equatable, Hashable, Codable {
    public var rows: Int
    public var vectorWidth: Int
    public var vectors: Int
    public var columns: Int { vectorWidth * vectors }

    static func isSupported(rows: Int, vectorWidth: Int, vectors: Int) -> Bool {
        [1, 4, 8, 16].contains(vectorWidth) && [1, 2, 4, 8].contains(rows) && [1, 2, 4].contains(vectors)
    }

    private enum CodingKeys: String, CodingKey { case rows, vectorWidth, vectors }

    /// Decoding checks the shape as `init` does, but throws instead of stopping (tuning cache files).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let (r, w, v) = (try c.decode(Int.self, forKey: .rows), try c.decode(Int.self, forKey: .vectorWidth),
                         try c.decode(Int.self, forKey: .vectors))
        guard Self.isSupported(rows: r, vectorWidth: w, vectors: v) else {
            throw DecodingError.dataCorruptedError(forKey: .rows, in: c, debugDescription: "unsupported tile \(r) × \(w) × \(v)")
        }
        self.init(rows: r, vectorWidth: w, vectors: v)
    }

    /// Four vectors per row are supported by the MLP kernels (mlp_gemm.cl) only, not by the CNN's.
    public init(rows: Int, vectorWidth: Int, vectors: Int) {
        precondition(Self.isSupported(rows: rows, vectorWidth: vectorWidth, vectors: vectors),
                     "unsupported tile shape: rows 1/2/4/8, vector width 1/4/8/16, 1, 2 or 4 vectors (mlp_gemm.cl)")
        self.rows = rows
        self.vectorWidth = vectorWidth
        self.vectors = vectors
    }

    /// PoCL on AVX-512 (preferred vector width 16): 8 rows × 32 columns in float16 (DESIGN.md's measured
    /// best); narrower networks get one vector so fewer padded columns are computed. GPUs (`DeviceProfile.gpu`) and narrower
    /// CPUs: 4 rows × 4·width columns of their preferred vector.
    ///
    /// `maxVectors: 4` (the MLP trainer; the CNN kernels take at most 2) lets a CPU whose hidden widths are
    /// all multiples of 4·width (64 in float16) use 4 rows × 64 columns: the same 16 accumulators, but a
    /// tile then covers whole rows of a 64-wide layer, so the fused activation runs as one contiguous span
    /// per work-item instead of eight (measured on PoCL, study-1 layer, the eight-function cycle: forward
    /// + activation 13.3 → 10.8 ms, data gradient + derivative 14.2 → 10.6 ms, weight gradient 7.2 → 6.6 ms
    /// per 64-candidate layer; bench/README.md, "Trainer kernels").
    public static func choose(for hint: PeakHint, widths: [Int], maxVectors: Int = 2) -> TileShape {
        let vw = [16, 8, 4].first { $0 <= max(hint.preferredFloatVectorWidth, 4) } ?? 4
        if hint.kind == .cpu {
            let hidden = widths.dropFirst().dropLast()
            if maxVectors >= 4, !hidden.isEmpty, hidden.allSatisfy({ $0 % (4 * vw) == 0 }) {
                return TileShape(rows: 4, vectorWidth: vw, vectors: 4)
            }
            let wide = (widths.dropFirst().max() ?? 0) > vw
            return TileShape(rows: 8, vectorWidth: vw, vectors: wide ? 2 : 1)
        }
        return TileShape(rows: 4, vectorWidth: vw, vectors: 1)
    }
}

/// Where everything of one candidate lives in the trainer's device buffers (layouts in mlp_common.cl),
/// for a given spec, tile shape, learnable-parameter count and row capacity.
struct MLPLayout {
    let spec: MLPSpec
    let tile: TileShape
    /// Largest learnable-parameter count of any slot expression in the population (0 = none).
    let kmax: Int
    /// Rows the activation buffers hold (a multiple of the tile rows).
    let capacityRows: Int

    /// Widths padded to whole tiles.
    let paddedWidths: [Int]
    /// Per layer: start of WT_l in a candidate's params (its bias follows at + in·outPad).
    let weightOffsets: [Int]
    /// Per layer: start of W_l in a candidate's mirror.
    let mirrorOffsets: [Int]
    let activationParameterOffset: Int
    let parameterStride: Int
    let mirrorStride: Int
    /// Per activated layer: (slot, offset in a candidate's partials, column tiles or 0 for per-row).
    let partialLayout: [(slot: Int, offset: Int, columnTiles: Int)]
    let partialStride: Int

    init(spec: MLPSpec, tile: TileShape, kmax: Int, capacityRows: Int) {
        self.spec = spec
        self.tile = tile
        self.kmax = kmax
        self.capacityRows = capacityRows.roundedUp(toMultipleOf: tile.rows)
        // A multiple of both tile sides: the weight-gradient GEMM reads TM input columns past the last one.
        paddedWidths = spec.widths.map { $0.roundedUp(toMultipleOf: max(tile.columns, tile.rows)) }
        var woffs: [Int] = [], moffs: [Int] = []
        var p = 0, m = 0
        for l in 0..<spec.layerCount {
            woffs.append(p)
            moffs.append(m)
            p += spec.widths[l] * paddedWidths[l + 1] + paddedWidths[l + 1]
            m += spec.widths[l + 1] * paddedWidths[l]
        }
        weightOffsets = woffs
        mirrorOffsets = moffs
        activationParameterOffset = p
        // Each candidate's block starts on a 16-float (64-byte) boundary.
        parameterStride = (p + spec.slotCount * kmax).roundedUp(toMultipleOf: 16)
        mirrorStride = (max(m, 1)).roundedUp(toMultipleOf: 16)
        var parts: [(slot: Int, offset: Int, columnTiles: Int)] = []
        var off = 0
        for l in 0..<spec.layerCount {
            guard let slot = spec.slot(ofLayer: l) else { continue }
            if l == spec.layerCount - 1 {
                parts.append((slot, off, 0))
                off += self.capacityRows * kmax
            } else {
                let colTiles = paddedWidths[l + 1] / tile.columns
                parts.append((slot, off, colTiles))
                off += colTiles * (self.capacityRows / tile.rows) * kmax
            }
        }
        partialLayout = parts
        partialStride = max(off, 1)
    }


    var maxPaddedWidth: Int { paddedWidths.dropFirst().max() ?? 1 }

    /// Floats of one layer's Z (or A) for one candidate.
    func activationStride(layer l: Int) -> Int { capacityRows * paddedWidths[l + 1] }

    /// Device bytes one candidate needs: params, grads, two optimiser moments, mirror, Z and A per layer,
    /// two dZ ping-pong buffers, partials, row losses and hits.
    var bytesPerCandidate: Int {
        let floats = 4 * parameterStride + mirrorStride
            + (0..<spec.layerCount).reduce(0) { $0 + 2 * activationStride(layer: $1) }
            + 2 * capacityRows * maxPaddedWidth + (kmax > 0 ? partialStride : 0) + 2 * capacityRows + 8
        return 4 * floats
    }

    /// The largest single allocation per candidate (the biggest per-layer activation buffer).
    var largestBufferBytesPerCandidate: Int {
        4 * max(capacityRows * maxPaddedWidth, 4 * parameterStride / 4)
    }

    /// Weights and biases of one candidate in the device layout (WT, zero-padded) and its mirror.
    func packWeights(_ w: LinearStackWeights, activationParameters: [[Float]]) -> (params: [Float], mirror: [Float]) {
        var params = [Float](repeating: 0, count: parameterStride)
        var mirror = [Float](repeating: 0, count: mirrorStride)
        for (l, layer) in w.layers.enumerated() {
            let nIn = layer.inputs, nOut = layer.outputs, outPad = paddedWidths[l + 1], inPad = paddedWidths[l]
            for o in 0..<nOut {
                for i in 0..<nIn {
                    params[weightOffsets[l] + i * outPad + o] = layer.weight[o * nIn + i]
                    mirror[mirrorOffsets[l] + o * inPad + i] = layer.weight[o * nIn + i]
                }
                params[weightOffsets[l] + nIn * outPad + o] = layer.bias[o]
            }
        }
        for (s, values) in activationParameters.enumerated() {
            for (k, v) in values.enumerated() { params[activationParameterOffset + s * kmax + k] = v }
        }
        return (params, mirror)
    }

    /// The inverse of `packWeights` for one candidate's params block.
    func unpackWeights(_ params: ArraySlice<Float>, parameterCounts: [Int]) -> (LinearStackWeights, [[Float]]) {
        let base = params.startIndex
        var layers: [LinearStackWeights.Layer] = []
        for l in 0..<spec.layerCount {
            let nIn = spec.widths[l], nOut = spec.widths[l + 1], outPad = paddedWidths[l + 1]
            var weight = [Float](repeating: 0, count: nOut * nIn)
            for o in 0..<nOut {
                for i in 0..<nIn { weight[o * nIn + i] = params[base + weightOffsets[l] + i * outPad + o] }
            }
            let bias = (0..<nOut).map { params[base + weightOffsets[l] + nIn * outPad + $0] }
            layers.append(.init(inputs: nIn, outputs: nOut, weight: weight, bias: bias))
        }
        let act = parameterCounts.enumerated().map { s, n in
            (0..<n).map { params[base + activationParameterOffset + s * kmax + $0] }
        }
        return (LinearStackWeights(layers: layers), act)
    }
}
