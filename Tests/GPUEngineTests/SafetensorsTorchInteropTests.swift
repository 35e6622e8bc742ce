import Foundation
import Testing
import Kernels
import Datasets
@testable import GPUEngine

/// Weights trained on the device and written by afsearch's safetensors writer, loaded by PyTorch through the
/// reference `safetensors` library (bench/peers/torch_logits.py, strict `load_state_dict`): PyTorch's logits
/// must equal a plain Swift forward pass of the same file, and its cross-entropy the device's final loss.
/// Skips when /usr/bin/python3 lacks torch or safetensors (safetensors may sit in bench/.venv/torch-extras,
/// which bench/run.sh installs).
enum TorchPeer {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let python = "/usr/bin/python3"

    /// Runs /usr/bin/python3 with `arguments`; its exit status and stdout (followed by stderr when
    /// `includeErrors`), or nil without a python3.
    static func run(_ arguments: [String], includeErrors: Bool = false) -> (status: Int32, output: String)? {
        guard FileManager.default.isExecutableFile(atPath: python) else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        let extras = repository.appendingPathComponent("bench/.venv/torch-extras").path
        environment["PYTHONPATH"] = [extras, environment["PYTHONPATH"]].compactMap { $0 }.joined(separator: ":")
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = includeErrors ? err : FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errors = includeErrors ? err.fileHandleForReading.readDataToEndOfFile() : Data()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self) + String(decoding: errors, as: UTF8.self))
    }

    static let available: Bool = run(["-c", "import torch, safetensors.torch"])?.status == 0
}

@Suite struct SafetensorsTorchInteropTests {
    @Test(.enabled(if: TorchPeer.available, "needs torch and safetensors for /usr/bin/python3"))
    func deviceTrainedWeightsLoadIntoPyTorchWithTheSameLogits() throws {
        let data = TrainerFixture.data(rows: 48, features: 6, classes: 3, seed: 21)
        let spec = try MLPSpec(widths: [6, 10, 7, 3], lastLayerActivation: false)
        let names = ["relu", "tanh"]
        let candidate = Candidate(activations: [.unary(.relu, .x), .unary(.tanh, .x)], seed: 5)
        let config = TrainingConfig(epochs: 8, learningRate: 0.02, optimizer: .adam(), seed: 3, evaluateEveryEpoch: false)
        let result = try TrainerFixture.trainer.train(candidates: [candidate], spec: spec, config: config, train: data)
        let trained = result.candidates[0]

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("afsearch-torch-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var file = SafetensorsFile(metadata: ["afsearch.activations": names.joined(separator: ",")])
        trained.weights.store(into: &file)
        let weightsURL = directory.appendingPathComponent("net.safetensors")
        try file.write(to: weightsURL)

        let rows = (0..<data.rowCount).map { r in (0..<data.featureCount).map { Double(data.features[r * data.featureCount + $0]) } }
        let input: [String: Any] = ["features": rows, "labels": data.labels.map(Int.init), "activations": names]
        let inputURL = directory.appendingPathComponent("input.json")
        try JSONSerialization.data(withJSONObject: input).write(to: inputURL)

        let script = TorchPeer.repository.appendingPathComponent("bench/peers/torch_logits.py").path
        let run = try #require(TorchPeer.run([script, weightsURL.path, inputURL.path]))
        try #require(run.status == 0, "torch_logits.py failed: \(run.output)")
        let reply = try #require(try JSONSerialization.jsonObject(with: Data(run.output.utf8)) as? [String: Any])
        let torchLogits = (reply["logits"] as! [[Any]]).map { $0.map { ($0 as! NSNumber).doubleValue } }

        // Plain Swift forward pass of the file as written (read back through our reader).
        let net = try LinearStackWeights(from: SafetensorsFile(contentsOf: weightsURL))
        var worst = 0.0
        for (r, row) in rows.enumerated() {
            var x = row
            for (n, layer) in net.layers.enumerated() {
                x = (0..<layer.outputs).map { o in
                    let s = (0..<layer.inputs).reduce(Double(layer.bias[o])) { $0 + Double(layer.weight[o * layer.inputs + $1]) * x[$1] }
                    return n == 0 ? max(s, 0) : n == 1 ? tanh(s) : s
                }
            }
            for (a, b) in zip(x, torchLogits[r]) { worst = max(worst, abs(a - b)) }
        }
        #expect(worst < 1e-4, "PyTorch logits differ from the Swift forward pass by \(worst)")
        let torchLoss = (reply["loss"] as! NSNumber).doubleValue
        #expect(abs(torchLoss - trained.finalTrain.loss) < 1e-4, "PyTorch loss \(torchLoss) vs device \(trained.finalTrain.loss)")
        #expect(abs((reply["accuracy"] as! NSNumber).doubleValue - trained.finalTrain.accuracy) < 1e-9)
    }
}
