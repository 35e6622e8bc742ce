/// An element-wise expression as a straight-line program for the trainer's activation interpreter
/// (`ActivationInterpreter`): the same nodes, in the same order, with the same shared subtrees and the same
/// RReLU node numbers as the generated `af_act_<id>` / `af_dact_<id>` (`ActivationCodegen`), so the
/// interpreter computes the same float operations as the compiled functions.
///
/// Why it exists: the interpreter is built once, so a population of new expressions (an evolution
/// generation) needs no OpenCL build at all, where the compiled path builds and JIT-compiles every new
/// expression (≈ 30 ms each on PoCL, see bench/README.md "Evolution timing").
///
/// Registers: 0 holds x; instruction i writes register i + 1. Each instruction knows statically whether
/// its operands carry a tangent (d/dx): a subtree without x has an exact zero tangent that is never
/// multiplied in (as the code generator's `nil` tangents), so f'(c) = inf times 0 never makes a NaN.
public struct ActivationTape: Sendable, Equatable {
    public struct Instruction: Sendable, Equatable {
        /// `Opcode` raw value.
        public var opcode: Int32
        /// First operand register (unary and binary ops).
        public var a: Int32
        /// Second operand register (binary ops), or the RReLU node number.
        public var b: Int32
        /// Bit 0: operand a has a tangent; bit 1: operand b has a tangent; bit 2: the result has one.
        public var flags: Int32
        /// The value of a constant instruction.
        public var constant: Float
    }

    public private(set) var instructions: [Instruction] = []

    /// Registers the program uses (x included).
    public var registerCount: Int { instructions.count + 1 }
    /// The register holding f(x) (0 when the expression is x itself).
    public var resultRegister: Int32 { Int32(instructions.count) }
    /// Whether f depends on x at all (otherwise f'(x) = 0 exactly).
    public var resultHasTangent: Bool { instructions.last.map { $0.flags & 4 != 0 } ?? true }

    public enum Opcode {
        public static let constant: Int32 = 0
        /// Unary ops: 1 + index in `UnaryOp.allCases`.
        public static func unary(_ op: UnaryOp) -> Int32 { 1 + Int32(UnaryOp.allCases.firstIndex(of: op)!) }
        /// Binary ops: 64 + index in `BinaryOp.allCases`.
        public static func binary(_ op: BinaryOp) -> Int32 { 64 + Int32(BinaryOp.allCases.firstIndex(of: op)!) }
    }

    public enum TapeError: Error, CustomStringConvertible, Equatable {
        case learnableParameters(ActivationExpr)
        case layerwise(ActivationExpr)
        case tooLong(ActivationExpr, registers: Int, limit: Int)
        public var description: String {
            switch self {
            case .learnableParameters(let e): return "'\(e)' has learnable parameters; the activation interpreter runs parameter-free expressions only"
            case .layerwise(let e): return "'\(e)' normalises across a layer's units; it runs as a row kernel"
            case .tooLong(let e, let n, let limit): return "'\(e)' needs \(n) registers; the activation interpreter holds \(limit)"
            }
        }
    }

    /// Encodes `e`; throws for what the interpreter does not run (learnable parameters, layer-wise ops,
    /// more than `registerLimit` registers).
    public init(_ e: ActivationExpr, registerLimit: Int = ActivationInterpreter.registers) throws(TapeError) {
        if e.isLayerwise { throw .layerwise(e) }
        if e.parameterCount > 0 { throw .learnableParameters(e) }
        var emitter = Emitter()
        _ = emitter.emit(e)
        instructions = emitter.instructions
        if registerCount > registerLimit { throw .tooLong(e, registers: registerCount, limit: registerLimit) }
    }

    /// Mirrors the code generator's `NodeEmitter` (seeded with x): node numbers count unary and binary
    /// nodes in emission order; identical deterministic subtrees are emitted once; constants are not nodes.
    private struct Emitter {
        var instructions: [Instruction] = []
        var cache: [ActivationExpr: (register: Int32, tangent: Bool)] = [:]
        var constants: [UInt32: Int32] = [:]
        var nodeCount: Int32 = 0

        mutating func append(_ i: Instruction) -> Int32 {
            instructions.append(i)
            return Int32(instructions.count)
        }

        mutating func emit(_ e: ActivationExpr) -> (register: Int32, tangent: Bool) {
            if let hit = cache[e] { return hit }
            let result: (register: Int32, tangent: Bool)
            switch e {
            case .x:
                return (0, true)
            case .constant(let c):
                let f = Float(c)
                if let r = constants[f.bitPattern] { return (r, false) }
                let r = append(Instruction(opcode: Opcode.constant, a: 0, b: 0, flags: 0, constant: f))
                constants[f.bitPattern] = r
                return (r, false)
            case .parameter, .layerwise:
                preconditionFailure("checked by init")
            case .unary(let op, let a):
                let av = emit(a)
                let node = nodeCount
                nodeCount += 1
                let flags: Int32 = av.tangent ? 1 | 4 : 0
                result = (append(Instruction(opcode: Opcode.unary(op), a: av.register, b: node, flags: flags, constant: 0)), av.tangent)
            case .binary(let op, let a, let b):
                let av = emit(a), bv = emit(b)
                nodeCount += 1
                let tangent = av.tangent || bv.tangent
                let flags: Int32 = (av.tangent ? 1 : 0) | (bv.tangent ? 2 : 0) | (tangent ? 4 : 0)
                result = (append(Instruction(opcode: Opcode.binary(op), a: av.register, b: bv.register, flags: flags, constant: 0)), tangent)
            }
            if !e.isStochastic { cache[e] = result }
            return result
        }
    }
}

/// A population's tapes packed for the device: per (candidate, slot) the offset of its program in
/// `words` (−1: not interpreted), programs as a header `(count, result, resultHasTangent, 0)` followed by one
/// `(opcode, a, b, flags)` per instruction, and the constants beside them (`constants[k]` belongs to `words[4k…]`).
public struct PackedTapes: Sendable, Equatable {
    public var offsets: [Int32] = []
    public var words: [Int32] = []
    public var constants: [Float] = []

    public init() {}

    /// Appends `tape` (once per distinct tape: pass the returned offset for every slot that uses it).
    public mutating func append(_ tape: ActivationTape) -> Int32 {
        let at = Int32(words.count / 4)
        words += [Int32(tape.instructions.count), tape.resultRegister, tape.resultHasTangent ? 1 : 0, 0]
        constants.append(0)
        for i in tape.instructions {
            words += [i.opcode, i.a, i.b, i.flags]
            constants.append(i.constant)
        }
        return at
    }
}
