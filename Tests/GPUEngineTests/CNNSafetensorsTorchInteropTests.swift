import Foundation
import Testing
import Kernels
import Datasets
@testable import GPUEngine

/// CNN weights trained on the device and written as `afsearch train --arch … --save-weights` writes them load,
/// strictly, into a PyTorch module whose `layers` is the nn.Sequential of the spec's layers (Conv2d, MaxPool2d,
/// Flatten, Dropout, Linear; activations applied after their layers, not modules of the Sequential). PyTorch's
/// logits must equal the Swift reference forward pass of the same file, and its cross-entropy the device's
/// final training loss. Skips when /usr/bin/python3 lacks torch.
private enum TorchCNNPeer {
    /// Reads the safetensors file with the `safetensors` package when importable (bench/.venv/torch-extras), else
    /// parses the documented format itself (u64 header length, JSON header, little-endian F32 data).
    static let script = #"""
    import json, struct, sys
    import torch
    import torch.nn as nn

    def load(path):
        try:
            from safetensors.torch import load_file
            return load_file(path)
        except ImportError:
            raw = open(path, "rb").read()
            n = struct.unpack("<Q", raw[:8])[0]
            header = json.loads(raw[8:8 + n])
            out = {}
            for name, t in header.items():
                if name == "__metadata__":
                    continue
                assert t["dtype"] == "F32", t
                a, b = t["data_offsets"]
                out[name] = torch.frombuffer(bytearray(raw[8 + n + a:8 + n + b]), dtype=torch.float32).reshape(t["shape"])
            return out

    ACT = {"tanh": torch.tanh, "softplus": nn.functional.softplus, "sigmoid": torch.sigmoid, "relu": torch.relu}

    class Net(nn.Module):
        def __init__(self, spec, activations):
            super().__init__()
            mods = []
            for l in spec:
                k = l["kind"]
                if k == "conv":
                    mods.append(nn.Conv2d(l["in"], l["out"], tuple(l["kernel"]), padding=l["padding"]))
                elif k == "pool":
                    mods.append(nn.MaxPool2d(2))
                elif k == "flatten":
                    mods.append(nn.Flatten())
                elif k == "dropout":
                    mods.append(nn.Dropout(l["rate"]))
                else:
                    mods.append(nn.Linear(l["in"], l["out"]))
            self.layers = nn.Sequential(*mods)
            self.slots = [l.get("slot") for l in spec]
            self.activations = activations

        def forward(self, x):
            for layer, slot in zip(self.layers, self.slots):
                x = layer(x)
                if slot is not None:
                    x = ACT[self.activations[slot]](x)
            return x

    doc = json.load(open(sys.argv[2]))
    net = Net(doc["spec"], doc["activations"])
    net.load_state_dict(load(sys.argv[1]), strict=True)
    net = net.double().eval()
    x = torch.tensor(doc["images"], dtype=torch.float64).reshape([-1] + doc["shape"])
    y = torch.tensor(doc["labels"], dtype=torch.long)
    with torch.no_grad():
        logits = net(x)
        loss = nn.functional.cross_entropy(logits, y).item()
    print(json.dumps({"logits": logits.tolist(), "loss": loss}))
    """#

    static let available: Bool = TorchPeer.run(["-c", "import torch"])?.status == 0

    /// The spec's layers as the script builds them (input channels and features inferred from `shape`).
    static func layers(_ architecture: NetworkArchitecture, shape: [Int]) throws -> [[String: Any]] {
        let shapes = try CNNShapes(architecture: architecture, inputShape: shape)
        var previous = (c: shape[0], h: shape[1], w: shape[2])
        return architecture.layers.enumerated().map { i, layer in
            defer { previous = shapes.outputs[i] }
            var d: [String: Any]
            switch layer {
            case .conv(let kh, let kw, let oc, let p, _):
                d = ["kind": "conv", "in": previous.c, "out": oc, "kernel": [kh, kw], "padding": p]
            case .maxPool: d = ["kind": "pool"]
            case .flatten: d = ["kind": "flatten"]
            case .dropout(let r): d = ["kind": "dropout", "rate": r]
            case .linear(let n, _): d = ["kind": "linear", "in": previous.c * previous.h * previous.w, "out": n]
            }
            if let slot = layer.slot { d["slot"] = slot }
            return d
        }
    }
}

@Suite(.serialized) struct CNNSafetensorsTorchInteropTests {
    @Test(.enabled(if: TorchCNNPeer.available, "needs torch for /usr/bin/python3"))
    func deviceTrainedCNNWeightsLoadIntoTorchSequentialWithTheSameLogits() throws {
        let architecture = CNNFixture.arch  // padding, two input channels, pooling, flatten order, dropout
        let shape = CNNFixture.shape
        let names = ["tanh", "softplus", "sigmoid"]
        let data = CNNFixture.images(rows: 20, seed: 31)
        let config = TrainingConfig(epochs: 3, learningRate: 0.01, batchSize: 10, seed: 9, evaluateEveryEpoch: false)
        let result = try CNNFixture.trainer.train(candidates: [CNNCandidate(activations: CNNFixture.smooth, seed: 2)],
                                                  architecture: architecture, config: config, train: data)
        let trained = result.candidates[0]

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("afsearch-torch-cnn-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var file = SafetensorsFile(metadata: ["afsearch.architecture": architecture.specString])
        trained.weights.store(into: &file)
        let weightsURL = directory.appendingPathComponent("cnn.safetensors")
        try file.write(to: weightsURL)
        #expect(Set(file.tensors.keys) == ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias",
                                           "layers.6.weight", "layers.6.bias", "layers.7.weight", "layers.7.bias"])

        let input: [String: Any] = ["spec": try TorchCNNPeer.layers(architecture, shape: shape), "activations": names,
                                    "shape": shape, "images": data.features.map(Double.init), "labels": data.labels.map(Int.init)]
        let inputURL = directory.appendingPathComponent("input.json")
        try JSONSerialization.data(withJSONObject: input).write(to: inputURL)
        let scriptURL = directory.appendingPathComponent("torch_cnn_logits.py")
        try TorchCNNPeer.script.write(to: scriptURL, atomically: true, encoding: .utf8)
        let run = try #require(TorchPeer.run([scriptURL.path, weightsURL.path, inputURL.path], includeErrors: true))
        try #require(run.status == 0, "the torch script failed: \(run.output)")
        let reply = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
        let torchLogits = (reply["logits"] as! [[Any]]).flatMap { $0.map { ($0 as! NSNumber).doubleValue } }

        // The Swift Double reference, evaluation mode, on the weights read back from the file.
        let loaded = try CNNWeights(from: SafetensorsFile(contentsOf: weightsURL), architecture: architecture, inputShape: shape)
        #expect(loaded == trained.weights)
        let net = try ReferenceCNN(architecture: architecture, inputShape: shape, activations: CNNFixture.smooth, weights: loaded, seed: 0)
        let logits = net.forward(data.features.map(Double.init), images: data.rowCount, training: false, pass: 0).values.last!
        try #require(logits.count == torchLogits.count)
        let worst = zip(logits, torchLogits).map { abs($0 - $1) }.max()!
        #expect(worst < 1e-4, "PyTorch logits differ from the Swift reference by \(worst)")
        let torchLoss = (reply["loss"] as! NSNumber).doubleValue
        #expect(abs(torchLoss - trained.finalTrain.loss) < 1e-4, "PyTorch loss \(torchLoss) vs device \(trained.finalTrain.loss)")
    }
}
