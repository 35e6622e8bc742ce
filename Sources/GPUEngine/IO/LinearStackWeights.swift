import Foundation

/// The weights of a stack of Linear layers under PyTorch's names and layouts: `layers.N.weight` with shape
/// `[out, in]` (row-major, so `y = W·x + b` reads row `o` for output unit `o`) and `layers.N.bias` with
/// shape `[out]`, N counting Linear layers from 0.
///
/// A population is stored in one file by prefixing each candidate's names with `candidate.I.`
/// (`candidate.3.layers.0.weight`); a population of one uses no prefix, so its file loads directly into
/// a PyTorch module whose Linear layers sit in an `nn.ModuleList` called `layers`.
public struct LinearStackWeights: Sendable, Equatable {
    public struct Layer: Sendable, Equatable {
        public var inputs: Int
        public var outputs: Int
        /// `outputs × inputs`, row-major.
        public var weight: [Float]
        public var bias: [Float]

        public init(inputs: Int, outputs: Int, weight: [Float], bias: [Float]) {
            precondition(weight.count == inputs * outputs && bias.count == outputs, "layer \(inputs)→\(outputs): wrong weight or bias size")
            self.inputs = inputs
            self.outputs = outputs
            self.weight = weight
            self.bias = bias
        }
    }

    public var layers: [Layer]

    public init(layers: [Layer]) {
        for i in layers.indices.dropFirst() {
            precondition(layers[i].inputs == layers[i - 1].outputs, "layer \(i) takes \(layers[i].inputs) inputs but layer \(i - 1) gives \(layers[i - 1].outputs)")
        }
        self.layers = layers
    }

    /// Widths from input to output, e.g. `[20, 64, 64, 10]`.
    public var widths: [Int] { layers.isEmpty ? [] : [layers[0].inputs] + layers.map(\.outputs) }

    public static func candidatePrefix(_ index: Int) -> String { "candidate.\(index)." }

    /// Adds this network's tensors to `file` under `prefix`.
    public func store(into file: inout SafetensorsFile, prefix: String = "") {
        for (n, layer) in layers.enumerated() {
            file.tensors["\(prefix)layers.\(n).weight"] = SafetensorsTensor(shape: [layer.outputs, layer.inputs], values: layer.weight)
            file.tensors["\(prefix)layers.\(n).bias"] = SafetensorsTensor(shape: [layer.outputs], values: layer.bias)
        }
    }

    /// Reads the network stored under `prefix`, checking it against the expected widths when given.
    /// `source` names the file in error messages.
    public init(from file: SafetensorsFile, prefix: String = "", expectedWidths: [Int]? = nil, source: String = "file") throws {
        var layers: [Layer] = []
        var n = 0
        while file.tensors["\(prefix)layers.\(n).weight"] != nil {
            let wName = "\(prefix)layers.\(n).weight", bName = "\(prefix)layers.\(n).bias"
            let w = try file.tensor(wName, in: source)
            let b = try file.tensor(bName, in: source)
            guard w.shape.count == 2 else {
                throw SafetensorsError.badTensor(tensor: wName, problem: "expected shape [out, in], got \(w.shape)")
            }
            guard b.shape == [w.shape[0]] else {
                throw SafetensorsError.badTensor(tensor: bName, problem: "expected shape [\(w.shape[0])] to match \(wName), got \(b.shape)")
            }
            if let prev = layers.last, prev.outputs != w.shape[1] {
                throw SafetensorsError.badTensor(tensor: wName, problem: "takes \(w.shape[1]) inputs but layer \(n - 1) has \(prev.outputs) outputs")
            }
            layers.append(Layer(inputs: w.shape[1], outputs: w.shape[0], weight: w.values, bias: b.values))
            n += 1
        }
        guard !layers.isEmpty else { throw SafetensorsError.missingTensor("\(prefix)layers.0.weight", file: source) }
        if let expected = expectedWidths {
            let got = [layers[0].inputs] + layers.map(\.outputs)
            guard got == expected else {
                throw SafetensorsError.badTensor(tensor: "\(prefix)layers.*", problem: "network widths \(got.map(String.init).joined(separator: "→")) do not match the expected \(expected.map(String.init).joined(separator: "→"))")
            }
        }
        self.init(layers: layers)
    }

    /// Reads every `candidate.I.` network of a population file, I = 0, 1, … without gaps.
    public static func population(from file: SafetensorsFile, source: String = "file") throws -> [LinearStackWeights] {
        var out: [LinearStackWeights] = []
        while file.tensors["\(candidatePrefix(out.count))layers.0.weight"] != nil {
            out.append(try LinearStackWeights(from: file, prefix: candidatePrefix(out.count), source: source))
        }
        return out
    }
}
