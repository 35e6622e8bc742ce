import Foundation

/// The weights of one CNN in PyTorch's layouts and names: `layers.N.weight` is out×in×kh×kw for a
/// convolution and out×in for a Linear layer, `layers.N.bias` has `out` entries; N is the layer's index in
/// the architecture's layer list (as in an `nn.Sequential` built from it, activations not counted).
/// A Linear layer after `flatten` takes its inputs in PyTorch's order c·H·W + y·W + x.
public struct CNNWeights: Sendable, Equatable {
    public struct Layer: Sendable, Equatable {
        /// Index of the layer in the architecture (the N of `layers.N`).
        public var index: Int
        /// [out, in, kh, kw] or [out, in].
        public var shape: [Int]
        public var weight: [Float]
        public var bias: [Float]
        public init(index: Int, shape: [Int], weight: [Float], bias: [Float]) {
            self.index = index
            self.shape = shape
            self.weight = weight
            self.bias = bias
        }
        public var fanIn: Int { shape.dropFirst().reduce(1, *) }
    }
    public var layers: [Layer]
    public init(layers: [Layer]) { self.layers = layers }

    /// The expected parameter shapes of an architecture on inputs of `inputShape` ([C, H, W]).
    public static func shapes(architecture: NetworkArchitecture, inputShape: [Int]) throws -> [(index: Int, shape: [Int])] {
        try CNNShapes(architecture: architecture, inputShape: inputShape).parameterShapes
    }

    /// PyTorch's `nn.Conv2d` / `nn.Linear` initialisation from a candidate's seed: weights and biases
    /// U(−1/√fan_in, 1/√fan_in) (kaiming_uniform with a = √5 gives exactly this bound), fan_in = in·kh·kw.
    /// Parametrised layer j draws its weights from stream 2j and its biases from 2j+1, element index in
    /// PyTorch's order as the counter (the same scheme as `LinearInit`).
    public static func initial(architecture: NetworkArchitecture, inputShape: [Int], seed: UInt64) throws -> CNNWeights {
        let shapes = try Self.shapes(architecture: architecture, inputShape: inputShape)
        return CNNWeights(layers: shapes.enumerated().map { j, s in
            let fanIn = s.shape.dropFirst().reduce(1, *)
            let bound = 1.0 / Double(fanIn).squareRoot()
            func draw(_ stream: UInt64, _ count: Int) -> [Float] {
                (0..<count).map { Float((2 * CounterRNG.uniform(seed: seed, stream: stream, counter: UInt64($0)) - 1) * bound) }
            }
            return Layer(index: s.index, shape: s.shape, weight: draw(UInt64(2 * j), s.shape.reduce(1, *)),
                         bias: draw(UInt64(2 * j + 1), s.shape[0]))
        })
    }

    /// Adds the tensors under `prefix` (e.g. `candidate.3.`).
    public func store(into file: inout SafetensorsFile, prefix: String = "") {
        for l in layers {
            file.tensors["\(prefix)layers.\(l.index).weight"] = SafetensorsTensor(shape: l.shape, values: l.weight)
            file.tensors["\(prefix)layers.\(l.index).bias"] = SafetensorsTensor(shape: [l.shape[0]], values: l.bias)
        }
    }

    /// Reads the weights of `architecture` stored under `prefix`, checking every name and shape.
    public init(from file: SafetensorsFile, prefix: String = "", architecture: NetworkArchitecture, inputShape: [Int],
                source: String = "file") throws {
        var layers: [Layer] = []
        for s in try Self.shapes(architecture: architecture, inputShape: inputShape) {
            let wName = "\(prefix)layers.\(s.index).weight", bName = "\(prefix)layers.\(s.index).bias"
            let w = try file.tensor(wName, in: source), b = try file.tensor(bName, in: source)
            guard w.shape == s.shape else {
                throw SafetensorsError.badTensor(tensor: wName, problem: "expected shape \(s.shape), got \(w.shape)")
            }
            guard b.shape == [s.shape[0]] else {
                throw SafetensorsError.badTensor(tensor: bName, problem: "expected shape [\(s.shape[0])], got \(b.shape)")
            }
            layers.append(Layer(index: s.index, shape: s.shape, weight: w.values, bias: b.values))
        }
        self.init(layers: layers)
    }
}

/// Shape inference over an architecture: the (channels, height, width) after every layer.
struct CNNShapes {
    /// Per architecture layer: the shape of its output.
    let outputs: [(c: Int, h: Int, w: Int)]
    let parameterShapes: [(index: Int, shape: [Int])]

    init(architecture: NetworkArchitecture, inputShape: [Int]) throws {
        guard inputShape.count == 3, inputShape.allSatisfy({ $0 >= 1 }) else {
            throw TrainerError.invalidSpec("the CNN's input shape must be [channels, height, width] ≥ 1, got \(inputShape)")
        }
        var (c, h, w) = (inputShape[0], inputShape[1], inputShape[2])
        var outs: [(c: Int, h: Int, w: Int)] = []
        var params: [(index: Int, shape: [Int])] = []
        for (i, layer) in architecture.layers.enumerated() {
            switch layer {
            case .conv(let kh, let kw, let oc, let pad, _):
                let oh = h + 2 * pad - kh + 1, ow = w + 2 * pad - kw + 1
                guard oh >= 1, ow >= 1 else {
                    throw TrainerError.invalidSpec("layer \(i) (conv\(kh)x\(kw)) does not fit its \(h)×\(w) input")
                }
                params.append((i, [oc, c, kh, kw]))
                (c, h, w) = (oc, oh, ow)
            case .maxPool(let s):
                guard h >= s, w >= s else { throw TrainerError.invalidSpec("layer \(i) (pool\(s)) gets a \(h)×\(w) input") }
                (h, w) = (h / s, w / s)
            case .flatten, .dropout:
                break
            case .linear(let n, _):
                params.append((i, [n, c * h * w]))
                (c, h, w) = (n, 1, 1)
            }
            outs.append((c, h, w))
        }
        outputs = outs
        parameterShapes = params
    }
}
