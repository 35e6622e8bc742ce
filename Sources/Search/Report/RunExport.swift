import Foundation
import Kernels
import GPUEngine

/// `afsearch export RUN --to pytorch`: the run's best network's functions as a Python module with one
/// `torch.nn.Module` per stage (`EvolvedInput`, `EvolvedHidden`, `EvolvedOutput`), a dict of them, and a
/// builder for study 2's FCN with each function in its stage. The module code of each function is the
/// expression language's own PyTorch export, so it keeps PyTorch's semantics (RReLU random in training,
/// its mean slope under `.eval()`).
public enum RunExport {
    public static let fileName = "activations.py"
    static let classNames = ["EvolvedInput", "EvolvedHidden", "EvolvedOutput"]

    public static func pytorch(_ run: EvolutionResult, runName: String) throws -> String {
        let expressions = run.best.expressions.map(\.canonical)
        guard expressions.count == 3 else {
            throw EvolutionError.invalidSetting("run '\(runName)' has no best network with three functions (found \(expressions.count))")
        }
        var doc = "Activation functions found by afsearch (run \(runName): \(run.settings.method.displayName)"
        doc += run.dataset.map { " on \($0)" } ?? ""
        doc += ").\n\nBest network, validation fitness \(String(format: "%.4f", run.bestFitness))"
        if let test = run.finalTest {
            doc += "; test accuracy \(String(format: "%.4f", test.testAccuracy)) at the last of \(test.epochs) epochs of retraining on Train1 + Train2"
        }
        doc += ":\n"
        for (slot, e) in expressions.enumerated() {
            doc += "    \(EvolutionSettings.slotNames[slot]): f(x) = \(e)\n"
        }
        let cnn = try run.architecture.map { spec in (spec, try NetworkArchitecture.named(spec)) }
        let builder = cnn.map { $0.0 == "cnn" ? "study2_cnn" : "evolved_cnn" } ?? "study2_fcn"
        doc += "\nUse: `from activations import \(builder), EvolvedHidden`; call `.eval()` before evaluating (RReLU).\n"
        var out = "\"\"\"" + doc.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"\"\"", with: "'''") + "\"\"\"\n"
        out += "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n"
        for (slot, e) in expressions.enumerated() {
            let module = ActivationExport.pytorchModule(e, className: classNames[slot])
            guard let start = module.range(of: "class ") else {
                throw EvolutionError.invalidSetting("the PyTorch export of '\(e)' has no class")
            }
            out += "\n" + module[start.lowerBound...].trimmingCharacters(in: .newlines) + "\n\n"
        }
        if let (spec, architecture) = cnn {
            return out + "\n" + Self.cnnBuilder(name: builder, spec: spec, architecture: architecture)
        }
        let network = run.network ?? .paper
        out += """

        ACTIVATIONS = {"input": EvolvedInput, "hidden": EvolvedHidden, "output": EvolvedOutput}


        def study2_fcn(in_features=784, classes=10, width=\(network.width), hidden_layers=\(network.hiddenLayers)):
            \"\"\"Study 2's fully connected network with the evolved function of each stage.\"\"\"
            layers = [nn.Linear(in_features, width), EvolvedInput()]
            for _ in range(hidden_layers):
                layers += [nn.Linear(width, width), EvolvedHidden()]
            layers += [nn.Linear(width, width), EvolvedOutput(), nn.Linear(width, classes)]
            return nn.Sequential(*layers)

        """
        return out
    }

    /// A builder of the run's CNN as an `nn.Sequential`, each activated layer followed by its stage's module
    /// (slot 0, 1, 2 = input, hidden, output stage). The first Linear after `flatten` is an `nn.LazyLinear`:
    /// its input size follows from the image size at the first call.
    static func cnnBuilder(name: String, spec: String, architecture: NetworkArchitecture) -> String {
        var lines: [String] = [], channels = "in_channels", features: Int? = nil
        func activation(_ slot: Int?) -> String { slot.map { ", \(classNames[min($0, 2)])()" } ?? "" }
        for layer in architecture.layers {
            switch layer {
            case .conv(let kh, let kw, let c, let p, let slot):
                lines.append("nn.Conv2d(\(channels), \(c), (\(kh), \(kw)), padding=\(p))" + activation(slot))
                channels = "\(c)"
            case .maxPool(let size): lines.append("nn.MaxPool2d(\(size))")
            case .flatten: lines.append("nn.Flatten()"); features = nil
            case .dropout(let rate): lines.append("nn.Dropout(\(rate))")
            case .linear(let n, let slot):
                lines.append((features.map { "nn.Linear(\($0), \(n))" } ?? "nn.LazyLinear(\(n))") + activation(slot))
                features = n
            }
        }
        return """

        ACTIVATIONS = {"input": EvolvedInput, "hidden": EvolvedHidden, "output": EvolvedOutput}


        def \(name)(in_channels=1):
            \"\"\"The evolved CNN (`\(spec)`) with the evolved function of each stage.\"\"\"
            return nn.Sequential(
                \(lines.joined(separator: ",\n        ")),
            )

        """
    }

    /// Writes `activations.py` into the run folder (or `output`) atomically; returns where.
    @discardableResult
    /// The best functions of the run in `folder` in `format`: the PyTorch module file, or for JAX and LaTeX
    /// one function or formula per stage (input, hidden, output).
    public static func text(folder: URL, format: ActivationExport.Format) throws -> String {
        let run = try EvolutionResult.read(from: folder)
        if format == .pytorch { return try pytorch(run, runName: folder.lastPathComponent) }
        let expressions = run.best.expressions.map(\.canonical)
        var out = ""
        for (slot, e) in expressions.enumerated() {
            let stage = slot < EvolutionSettings.slotNames.count ? EvolutionSettings.slotNames[slot] : "slot \(slot)"
            let name = slot < classNames.count ? classNames[slot] : "Evolved\(slot)"
            let body = ActivationExport.render(e, as: format, name: name)
            out += (format == .latex ? "% \(stage)\n" : "# \(stage)\n") + (body.hasSuffix("\n") ? body : body + "\n") + "\n"
        }
        return out
    }

    public static func write(folder: URL, output: URL? = nil) throws -> URL {
        let run = try EvolutionResult.read(from: folder)
        let text = try pytorch(run, runName: folder.lastPathComponent)
        let url = output ?? folder.appendingPathComponent(fileName)
        try Data(text.utf8).write(to: url, options: .atomic)
        return url
    }
}
