import Foundation

/// Source text of an expression for other tools: a ready PyTorch `nn.Module`, a JAX function, LaTeX.
/// PyTorch and JAX code reproduce this project's semantics (PyTorch defaults; RReLU random in training).
public enum ActivationExport {
    public enum Format: String, CaseIterable, Sendable {
        case pytorch, jax, latex
    }

    public static func render(_ expr: ActivationExpr, as format: Format, name: String = "EvolvedActivation") -> String {
        switch format {
        case .pytorch: return pytorchModule(expr, className: name)
        case .jax: return jaxFunction(expr, functionName: snakeCase(name))
        case .latex: return latex(expr)
        }
    }

    // MARK: PyTorch

    /// A self-contained `torch.nn.Module`; learnable parameters become `nn.Parameter` scalars.
    public static func pytorchModule(_ expr: ActivationExpr, className: String = "EvolvedActivation") -> String {
        var out = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n\n"
        out += "class \(className)(nn.Module):\n"
        out += "    \"\"\"f(x) = \(expr)\"\"\"\n\n"
        out += "    def __init__(self):\n        super().__init__()\n"
        for p in expr.parameters {
            out += "        self.\(p.name) = nn.Parameter(torch.tensor(\(pythonFloat(p.initial))))\n"
        }
        // A constant function still returns a tensor shaped like x.
        let body = expr.dependsOnInput ? torchCode(expr) : "\(torchCode(expr)) + torch.zeros_like(x)"
        out += "\n    def forward(self, x):\n        return \(body)\n"
        return out
    }

    static func torchCode(_ e: ActivationExpr) -> String {
        switch e {
        case .x: return "x"
        case .constant(let c): return pythonFloat(c)
        case .parameter(let name, _): return "self.\(name)"
        case .layerwise(let op):
            switch op {
            case .softmax: return "F.softmax(x, dim=1)"
            case .softmin: return "F.softmin(x, dim=1)"
            case .logSoftmax: return "F.log_softmax(x, dim=1)"
            case .gumbelSoftmax: return "F.gumbel_softmax(x, tau=1.0, dim=1)"
            }
        case .unary(let op, let a):
            let s = torchCode(a)
            // A constant operand still needs to be a tensor for torch functions.
            let t = isPythonNumber(a) ? "torch.full_like(x, \(s))" : s
            switch op {
            case .neg: return "(-\(s))"
            case .logSafe: return "torch.log(torch.abs(\(t)) + 1e-07)"
            case .trigamma: return "torch.polygamma(1, \(t))"
            case .step: return "torch.heaviside(\(t), torch.zeros_like(x))"
            case .rrelu: return "F.rrelu(\(t), training=self.training)"
            case .gelu: return "F.gelu(\(t))"
            case .relu, .relu6, .softplus, .softsign, .hardtanh, .hardshrink, .softshrink, .tanhshrink, .leakyRelu,
                 .elu, .selu, .celu, .silu, .mish, .hardswish:
                return "F.\(op.rawValue)(\(t))"
            case .logSigmoid: return "F.logsigmoid(\(t))"
            default: return "torch.\(op.rawValue)(\(t))"
            }
        case .binary(let op, let a, let b):
            let l = torchCode(a), r = torchCode(b)
            switch op {
            case .add: return "(\(l) + \(r))"
            case .sub: return "(\(l) - \(r))"
            case .mul: return "(\(l) * \(r))"
            case .div: return "(\(l) / \(r))"
            case .max, .min:
                let f = op == .max ? "torch.maximum" : "torch.minimum"
                let lt = isPythonNumber(a) ? "torch.full_like(x, \(l))" : l
                let rt = isPythonNumber(b) ? "torch.full_like(x, \(r))" : r
                return "\(f)(\(lt), \(rt))"
            }
        }
    }

    /// True when the exported PyTorch code of `e` is a plain Python number (constants and their
    /// arithmetic), which torch functions do not accept; every other node is already a tensor.
    static func isPythonNumber(_ e: ActivationExpr) -> Bool {
        switch e {
        case .constant: return true
        case .unary(.neg, let a): return isPythonNumber(a)
        case .binary(let op, let a, let b):
            return [.add, .sub, .mul, .div].contains(op) && isPythonNumber(a) && isPythonNumber(b)
        default: return false
        }
    }

    // MARK: JAX

    /// A pure function of `x` (and the parameters, as keyword arguments with their initial values).
    /// RReLU uses its evaluation-mode slope; Gumbel-softmax takes a `key`.
    public static func jaxFunction(_ expr: ActivationExpr, functionName: String = "evolved_activation") -> String {
        var out = "import jax\nimport jax.numpy as jnp\nfrom jax.scipy.special import digamma, erf, erfc, polygamma\n\n\n"
        var args = ["x"] + expr.parameters.map { "\($0.name)=\(pythonFloat($0.initial))" }
        if case .layerwise(.gumbelSoftmax) = expr { args.append("key=None") }
        out += "def \(functionName)(\(args.joined(separator: ", "))):\n"
        out += "    \"\"\"f(x) = \(expr)\"\"\"\n"
        let body = expr.dependsOnInput ? jaxCode(expr) : "\(jaxCode(expr)) + jnp.zeros_like(x)"
        out += "    return \(body)\n"
        return out
    }

    static func jaxCode(_ e: ActivationExpr) -> String {
        switch e {
        case .x: return "x"
        case .constant(let c): return pythonFloat(c)
        case .parameter(let name, _): return name
        case .layerwise(let op):
            switch op {
            case .softmax: return "jax.nn.softmax(x, axis=-1)"
            case .softmin: return "jax.nn.softmax(-x, axis=-1)"
            case .logSoftmax: return "jax.nn.log_softmax(x, axis=-1)"
            case .gumbelSoftmax: return "jax.nn.softmax(x + jax.random.gumbel(key, x.shape), axis=-1)"
            }
        case .unary(let op, let a):
            let s = jaxCode(a)
            typealias C = ActivationConstants
            switch op {
            case .neg: return "(-\(s))"
            case .square: return "jnp.square(\(s))"
            case .asin: return "jnp.arcsin(\(s))"
            case .acos: return "jnp.arccos(\(s))"
            case .atan: return "jnp.arctan(\(s))"
            case .erf, .erfc, .digamma: return "\(op.rawValue)(\(s))"
            case .trigamma: return "polygamma(1, \(s))"
            case .frac: return "(\(s) - jnp.trunc(\(s)))"
            case .angle: return "jnp.where(\(s) < 0, jnp.pi, 0.0)"
            case .logSafe: return "jnp.log(jnp.abs(\(s)) + 1e-07)"
            case .relu, .relu6, .sigmoid, .selu, .silu: return "jax.nn.\(op.rawValue)(\(s))"
            case .softplus: return "jnp.where(\(s) > 20.0, \(s), jnp.log1p(jnp.exp(\(s))))"
            case .softsign: return "jax.nn.soft_sign(\(s))"
            case .hardtanh: return "jnp.clip(\(s), -1.0, 1.0)"
            case .hardshrink: return "jnp.where(jnp.abs(\(s)) > 0.5, \(s), 0.0)"
            case .softshrink: return "jnp.where(\(s) > 0.5, \(s) - 0.5, jnp.where(\(s) < -0.5, \(s) + 0.5, 0.0))"
            case .tanhshrink: return "(\(s) - jnp.tanh(\(s)))"
            case .logSigmoid: return "jax.nn.log_sigmoid(\(s))"
            case .leakyRelu: return "jax.nn.leaky_relu(\(s), \(pythonFloat(C.leakyReluSlope)))"
            case .elu, .celu: return "jax.nn.elu(\(s))"
            case .gelu: return "jax.nn.gelu(\(s), approximate=False)"
            case .mish: return "(\(s) * jnp.tanh(jnp.log1p(jnp.exp(\(s)))))"
            case .hardswish: return "jax.nn.hard_swish(\(s))"
            case .rrelu: return "jnp.where(\(s) >= 0, \(s), \(s) * \(pythonFloat(C.rreluMeanSlope)))"
            case .step: return "jnp.where(\(s) > 0, 1.0, 0.0)"
            default: return "jnp.\(op.rawValue)(\(s))"
            }
        case .binary(let op, let a, let b):
            let l = jaxCode(a), r = jaxCode(b)
            switch op {
            case .add: return "(\(l) + \(r))"
            case .sub: return "(\(l) - \(r))"
            case .mul: return "(\(l) * \(r))"
            case .div: return "(\(l) / \(r))"
            case .max: return "jnp.maximum(\(l), \(r))"
            case .min: return "jnp.minimum(\(l), \(r))"
            }
        }
    }

    // MARK: LaTeX

    /// Math-mode LaTeX (no surrounding `$`).
    public static func latex(_ e: ActivationExpr) -> String {
        if let p = e.preluParts {
            return "\\operatorname{PReLU}_{\(latexName(p.name))}\\left(\(latex(p.argument))\\right)"
        }
        switch e {
        case .x: return "x"
        case .constant(let c): return latexNumber(c)
        case .parameter(let name, _): return latexName(name)
        case .layerwise(let op):
            let names: [LayerwiseOp: String] = [.softmax: "softmax", .softmin: "softmin",
                                                .logSoftmax: "log\\,softmax", .gumbelSoftmax: "gumbel\\,softmax"]
            return "\\operatorname{\(names[op]!)}(\\mathbf{x})_i"
        case .unary(let op, let a):
            let s = latex(a)
            let paren = "\\left(\(s)\\right)"
            switch op {
            case .neg: return latexPrecedence(a) >= 3 ? "-\(s)" : "-\(paren)"
            case .abs: return "\\left|\(s)\\right|"
            case .square: return latexPrecedence(a) >= 4 ? "{\(s)}^{2}" : "\(paren)^{2}"
            case .sqrt: return "\\sqrt{\(s)}"
            case .exp: return "e^{\(s)}"
            case .log: return "\\ln\(paren)"
            case .log10: return "\\log_{10}\(paren)"
            case .sin, .cos, .tan, .sinh, .cosh, .tanh: return "\\\(op.rawValue)\(paren)"
            case .asin: return "\\arcsin\(paren)"
            case .acos: return "\\arccos\(paren)"
            case .atan: return "\\arctan\(paren)"
            case .ceil: return "\\left\\lceil \(s) \\right\\rceil"
            case .floor: return "\\left\\lfloor \(s) \\right\\rfloor"
            case .digamma: return "\\psi\(paren)"
            case .trigamma: return "\\psi_{1}\(paren)"
            case .angle: return "\\arg\(paren)"
            case .sigmoid: return "\\sigma\(paren)"
            case .sign: return "\\operatorname{sgn}\(paren)"
            case .step: return "H\(paren)"
            case .logSafe: return "\\ln\\left(\\left|\(s)\\right| + 10^{-7}\\right)"
            default:
                let names: [UnaryOp: String] = [.relu: "ReLU", .relu6: "ReLU6", .softplus: "softplus",
                    .softsign: "softsign", .hardtanh: "hardtanh", .hardshrink: "hardshrink", .softshrink: "softshrink",
                    .tanhshrink: "tanhshrink", .logSigmoid: "logsigmoid", .leakyRelu: "LeakyReLU", .elu: "ELU",
                    .selu: "SELU", .celu: "CELU", .gelu: "GELU", .silu: "SiLU", .mish: "mish", .hardswish: "hardswish",
                    .rrelu: "RReLU", .erf: "erf", .erfc: "erfc", .round: "round", .trunc: "trunc", .frac: "frac"]
                return "\\operatorname{\(names[op] ?? op.rawValue)}\(paren)"
            }
        case .binary(let op, let a, let b):
            let p = latexPrecedence(e)
            func side(_ x: ActivationExpr, strict: Bool) -> String {
                let q = latexPrecedence(x)
                return (strict ? q <= p : q < p) ? "\\left(\(latex(x))\\right)" : latex(x)
            }
            switch op {
            case .add: return "\(side(a, strict: false)) + \(side(b, strict: false))"
            case .sub: return "\(side(a, strict: false)) - \(side(b, strict: true))"
            case .mul: return "\(side(a, strict: false)) \\cdot \(side(b, strict: false))"
            case .div: return "\\frac{\(latex(a))}{\(latex(b))}"
            case .max: return "\\max\\left(\(latex(a)), \(latex(b))\\right)"
            case .min: return "\\min\\left(\(latex(a)), \(latex(b))\\right)"
            }
        }
    }

    private static func latexPrecedence(_ e: ActivationExpr) -> Int {
        if e.preluParts != nil { return 4 }
        switch e {
        case .binary(.add, _, _), .binary(.sub, _, _): return 1
        case .binary(.mul, _, _): return 2
        case .unary(.neg, _): return 3
        case .constant(let c): return c < 0 ? 3 : 4
        default: return 4
        }
    }

    private static func latexNumber(_ c: Double) -> String {
        if c.isNaN { return "\\mathrm{NaN}" }
        if c.isInfinite { return c < 0 ? "-\\infty" : "\\infty" }
        let text = formatConstant(c)
        guard let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) else { return text }
        let mantissa = String(text[..<e])
        var exponent = String(text[text.index(after: e)...])
        if exponent.hasPrefix("+") { exponent.removeFirst() }
        if let n = Int(exponent) { exponent = String(n) }
        return mantissa == "1" ? "10^{\(exponent)}" : "\(mantissa) \\cdot 10^{\(exponent)}"
    }

    private static func latexName(_ name: String) -> String {
        name.count == 1 ? name : "\\mathrm{\(name.replacingOccurrences(of: "_", with: "\\_"))}"
    }

    // MARK: shared

    /// A Python float literal that reads back as the same double.
    static func pythonFloat(_ c: Double) -> String {
        if c.isNaN { return "float('nan')" }
        if c.isInfinite { return c < 0 ? "float('-inf')" : "float('inf')" }
        let s = formatConstant(c)
        return s.contains(".") || s.contains("e") ? s : s + ".0"
    }

    static func snakeCase(_ name: String) -> String {
        var out = ""
        for (i, ch) in name.enumerated() {
            if ch.isUppercase, i > 0 { out += "_" }
            out += ch.lowercased()
        }
        return out
    }
}

extension ActivationExpr {
    /// True when some leaf is x or a parameter (the value is a tensor in exported code).
    var dependsOnInput: Bool {
        var found = false
        visit { node in
            switch node {
            case .x, .parameter, .layerwise: found = true
            default: break
            }
        }
        return found
    }
}
