import Foundation
import Kernels

/// The functions a genetic-programming representation builds expressions from: unary and binary
/// operations, whole functions of x used as unary primitives (`x * sigmoid(x)` applied to a subtree),
/// and constant leaves (tree GP).
///
/// CGP and tree GP use the element-wise part of the expression language only: layer-wise functions
/// (softmax family) and learnable parameters never appear in an evolved function.
public struct PrimitiveSet: Sendable, Hashable {
    public var unary: [UnaryOp]
    public var binary: [BinaryOp]
    /// Functions of x applied to an operand by substituting it for x (arity 1).
    public var functions: [ActivationExpr]
    /// Constant leaves tree GP may place besides x and its ephemeral constants.
    public var constants: [Double]

    public init(unary: [UnaryOp], binary: [BinaryOp], functions: [ActivationExpr] = [], constants: [Double] = []) {
        precondition(!(unary.isEmpty && binary.isEmpty && functions.isEmpty), "a primitive set needs at least one function")
        self.unary = unary
        self.binary = binary
        self.functions = functions
        self.constants = constants
    }

    /// The primitives of an expression-language menu (layer-wise entries and parameters left out).
    public init(menu: Menu) {
        var unary: [UnaryOp] = [], binary: [BinaryOp] = [], functions: [ActivationExpr] = [], constants: [Double] = []
        for entry in menu.entries {
            switch entry.primitive {
            case .unary(let op): unary.append(op)
            case .binary(let op): binary.append(op)
            case .function(let e) where ExpressionTree.isElementwise(e): functions.append(e)
            case .leaf(.constant(let c)): constants.append(c)
            default: break
            }
        }
        self.init(unary: unary, binary: binary, functions: functions, constants: constants)
    }

    /// Study 2's CGP primitives (`Menu.paper2`): binary max, min, add, sub, mul; unary tanh, ReLU,
    /// LeakyReLU, ELU, Hardshrink, CELU, Hardtanh, Hardswish, Softshrink, RReLU (PyTorch defaults).
    public static let paper2 = PrimitiveSet(menu: .paper2)

    /// The richer tree-GP set (`Menu.default`): study 2's primitives plus division, smooth and elementary
    /// functions, swish-style products and a few constants.
    public static let treeDefault = PrimitiveSet(menu: .default)

    /// Names as the parser spells them (`relu,tanh,max,add`) or menu entry names of the `default` menu
    /// (`Swish`, case-insensitive). Unknown names are an error naming them.
    public init(names: [String]) throws {
        var set = PrimitiveSet(unary: [.relu], binary: [])
        set.unary = []
        for raw in names {
            let name = raw.trimmingCharacters(in: .whitespaces)
            if name.isEmpty { continue }
            if let op = UnaryOp(rawValue: name) { set.unary.append(op) }
            else if let op = BinaryOp(rawValue: name) { set.binary.append(op) }
            else if let entry = Menu.default.entries.first(where: { $0.name.lowercased() == name.lowercased() }) {
                switch entry.primitive {
                case .unary(let op): set.unary.append(op)
                case .binary(let op): set.binary.append(op)
                case .function(let e): set.functions.append(e)
                case .leaf(.constant(let c)): set.constants.append(c)
                case .leaf: break
                }
            } else {
                throw EvolutionError.invalidSetting(
                    "unknown primitive '\(name)'; expected a unary function (\(UnaryOp.allCases.map(\.rawValue).joined(separator: ", "))), a binary one (\(BinaryOp.allCases.map(\.rawValue).joined(separator: ", "))) or a `default` menu entry (\(Menu.default.entries.map(\.name).joined(separator: ", ")))")
            }
        }
        guard !(set.unary.isEmpty && set.binary.isEmpty && set.functions.isEmpty) else {
            throw EvolutionError.invalidSetting("the primitive list has no function")
        }
        self = set
    }

    /// The functions in one list, as CGP function genes index them: unary, then whole functions, then binary.
    var functionCount: Int { unary.count + functions.count + binary.count }

    func arity(ofFunction index: Int) -> Int { index < unary.count + functions.count ? 1 : 2 }

    /// Applies function `index` to its operands (the second is ignored for arity-1 functions).
    func apply(_ index: Int, _ a: ActivationExpr, _ b: ActivationExpr) -> ActivationExpr {
        if index < unary.count { return .unary(unary[index], a) }
        if index < unary.count + functions.count { return functions[index - unary.count].substituting(x: a) }
        return .binary(binary[index - unary.count - functions.count], a, b)
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
