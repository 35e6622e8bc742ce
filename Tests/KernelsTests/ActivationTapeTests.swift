import Testing
@testable import Kernels

struct ActivationTapeTests {
    func tape(_ s: String) throws -> ActivationTape { try ActivationTape(try ActivationExpr.parse(s)) }

    @Test func sharedSubtreesAndConstantsAreEmittedOnce() throws {
        let t = try tape("x * sigmoid(2 * x) + sigmoid(2 * x) * 2")
        let sigmoid = ActivationTape.Opcode.unary(.sigmoid)
        #expect(t.instructions.filter { $0.opcode == sigmoid }.count == 1)
        #expect(t.instructions.filter { $0.opcode == ActivationTape.Opcode.constant }.map(\.constant) == [2])
        #expect(t.resultRegister == Int32(t.instructions.count) && t.resultHasTangent)
        // Every operand is defined before it is used.
        for (i, ins) in t.instructions.enumerated() where ins.opcode != ActivationTape.Opcode.constant {
            #expect(ins.a <= Int32(i))
            if ins.opcode >= 64 { #expect(ins.b <= Int32(i)) }
        }
    }

    @Test func rreluNodesAreDistinctAndNumberedAsTheCodeGenerator() throws {
        let t = try tape("rrelu(x) + rrelu(x)")
        let rrelu = t.instructions.filter { $0.opcode == ActivationTape.Opcode.unary(.rrelu) }
        #expect(rrelu.map(\.b) == [0, 1], "node numbers of the two RReLU nodes")
        // The generated OpenCL uses the same node numbers.
        let source = ActivationCodegen.source(for: [try ActivationExpr.parse("rrelu(x) + rrelu(x)")])
        #expect(source.contains("af_rrelu(x, key, 0U)") && source.contains("af_rrelu(x, key, 1U)"))
    }

    @Test func tangentsOfSubtreesWithoutXAreExactZeros() throws {
        let t = try tape("log(0 * 3) + x")
        let log = t.instructions.first { $0.opcode == ActivationTape.Opcode.unary(.log) }!
        #expect(log.flags == 0, "log(0)' = inf must never be multiplied into the tangent")
        #expect(t.instructions.last!.flags == 2 | 4)
        #expect(try !tape("sin(2) * 3").resultHasTangent)
    }

    @Test func whatTheInterpreterDoesNotRunIsRejected() throws {
        #expect(throws: ActivationTape.TapeError.self) { try ActivationTape(.layerwise(.softmax)) }
        #expect(throws: ActivationTape.TapeError.self) {
            try ActivationTape(.binary(.mul, .parameter(name: "a", initial: 0.25), .x))
        }
        var deep: ActivationExpr = .x
        for k in 0..<40 { deep = .binary(.add, .unary(.sin, deep), .constant(Double(k))) }
        #expect(throws: ActivationTape.TapeError.self) { try ActivationTape(deep) }
    }

    @Test func packedTapesPointAtTheirHeaders() throws {
        var packed = PackedTapes()
        let a = try tape("tanh(x)"), b = try tape("x * x + 1")
        let oa = packed.append(a), ob = packed.append(b)
        #expect(oa == 0 && ob == Int32(1 + a.instructions.count))
        #expect(packed.words[4 * Int(ob)] == Int32(b.instructions.count))
        #expect(packed.constants[Int(ob) + 2] == 1)
        #expect(packed.words.count == 4 * packed.constants.count)
    }
}
