import Foundation
import Kernels

/// The functions a genetic-programming representation builds expressions from.
///
/// CGP and tree GP use the element-wise part of the expression language only: layer-wise functions
/// (softmax family) and learnable parameters never appear in an evolved function.
public struct PrimitiveSet: Sendable, Hashable {
    public var unary: [UnaryOp]
    public var binary: [BinaryOp]

    public init(unary: [UnaryOp], binary: [BinaryOp]) {
        precondition(!(unary.isEmpty && binary.isEmpty), "a primitive set needs at least one function")
        self.unary = unary
        self.binary = binary
    }

    /// Study 2's CGP primitives: binary max, min, add, sub, mul; unary tanh, ReLU, LeakyReLU, ELU,
    /// Hardshrink, CELU, Hardtanh, Hardswish, Softshrink, RReLU (PyTorch defaults).
    public static let paper2 = PrimitiveSet(
        unary: [.tanh, .relu, .leakyRelu, .elu, .hardshrink, .celu, .hardtanh, .hardswish, .softshrink, .rrelu],
        binary: [.max, .min, .add, .sub, .mul]
    )

    /// The richer set for tree GP: study 2's primitives plus sigmoid, exp, protected log, sin, abs, neg,
    /// square, erf and softplus (products such as `x * sigmoid(x)` arise from `mul`). No division: a
    /// quotient is unbounded near its poles and would mostly breed diverging networks.
    public static let treeDefault = PrimitiveSet(
        unary: paper2.unary + [.sigmoid, .exp, .logSafe, .sin, .abs, .neg, .square, .erf, .softplus],
        binary: paper2.binary
    )

    /// Names as the parser spells them: `relu,tanh,max,add`. Unknown names are an error naming them.
    public init(names: [String]) throws {
        var unary: [UnaryOp] = []
        var binary: [BinaryOp] = []
        for raw in names {
            let name = raw.trimmingCharacters(in: .whitespaces)
            if name.isEmpty { continue }
            if let op = UnaryOp(rawValue: name) { unary.append(op) }
            else if let op = BinaryOp(rawValue: name) { binary.append(op) }
            else {
                throw EvolutionError.invalidSetting(
                    "unknown primitive '\(name)'; expected a unary function (\(UnaryOp.allCases.map(\.rawValue).joined(separator: ", "))) or a binary one (\(BinaryOp.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
        }
        guard !(unary.isEmpty && binary.isEmpty) else {
            throw EvolutionError.invalidSetting("the primitive list is empty")
        }
        self.init(unary: unary, binary: binary)
    }

    public var names: [String] { unary.map(\.rawValue) + binary.map(\.rawValue) }

    /// The functions in one list, as CGP function genes index them: unary first, then binary.
    var functionCount: Int { unary.count + binary.count }

    func arity(ofFunction index: Int) -> Int { index < unary.count ? 1 : 2 }

    /// Applies function `index` to its operands (the second is ignored for unary functions).
    func apply(_ index: Int, _ a: ActivationExpr, _ b: ActivationExpr) -> ActivationExpr {
        index < unary.count ? .unary(unary[index], a) : .binary(binary[index - unary.count], a, b)
    }
}

/// Errors of the evolutionary searches: each names the setting or input and what was expected.
public enum EvolutionError: Error, CustomStringConvertible, Equatable {
    case invalidSetting(String)
    case resumeMismatch(String)
    case corruptCheckpoint(String)

    public var description: String {
        switch self {
        case .invalidSetting(let message): return message
        case .resumeMismatch(let message): return "cannot resume: \(message)"
        case .corruptCheckpoint(let message): return "checkpoint unreadable: \(message)"
        }
    }
}
