import Foundation
import Kernels
import Testing
@testable import Search

@Suite struct CGPTests {
    /// A 1 × 3 grid over {relu, tanh | add, mul}: function indices 0 relu, 1 tanh, 2 add, 3 mul.
    let shape = CGPShape(rows: 1, columns: 3, levelsBack: 2,
                         primitives: PrimitiveSet(unary: [.relu, .tanh], binary: [.add, .mul]))

    @Test func decodesTheActivePathOnly() {
        // node0 = tanh(x) [second input ignored], node1 = mul(x, node0), node2 = relu(node1); output = node1.
        // Addresses: 0 = x, 1 = node0, 2 = node1, 3 = node2.
        let genome = CGPGenome(genes: [1, 0, 0, 3, 0, 1, 0, 2, 2, 2])
        #expect(shape.isValid(genome.genes))
        #expect(genome.decode(shape) == .binary(.mul, .x, .unary(.tanh, .x)))
        #expect(genome.activeNodes(shape) == [0, 1])
        // output gene, node0's function and first input, node1's three genes; node0's second input is unused
        #expect(genome.activeGenes(shape) == [0, 1, 3, 4, 5, 9])
        // evaluated expression matches x·tanh(x)
        for x in [-2.0, -0.5, 0, 0.7, 3] {
            #expect(abs(genome.decode(shape).evaluate(x) - x * Foundation.tanh(x)) < 1e-12)
        }
    }

    @Test func levelsBackLimitsConnections() {
        let narrow = CGPShape(rows: 2, columns: 4, levelsBack: 1, primitives: .paper2)
        var rng = GPRandom(seed: 3)
        for _ in 0..<200 {
            let genome = CGPGenome.random(narrow, using: &rng)
            #expect(narrow.isValid(genome.genes))
            for node in 0..<narrow.nodeCount {
                let column = node / narrow.rows
                for input in [genome.genes[node * 3 + 1], genome.genes[node * 3 + 2]] where input >= narrow.inputCount {
                    #expect((input - narrow.inputCount) / narrow.rows == column - 1)
                }
            }
        }
    }

    @Test func activeGeneMutationChangesExactlyOneActiveGene() {
        var rng = GPRandom(seed: 11)
        let paper = CGPShape.paper2
        for _ in 0..<300 {
            let parent = CGPGenome.random(paper, using: &rng)
            let child = parent.mutated(paper, using: &rng)
            let changed = parent.genes.indices.filter { parent.genes[$0] != child.genes[$0] }
            #expect(changed.count == 1)
            #expect(Set(parent.activeGenes(paper)).isSuperset(of: changed))
            #expect(paper.isValid(child.genes))
        }
    }

    @Test func inactiveMutationByFlagDriftsInactiveGenesAndEndsOnAnActiveOne() {
        var rng = GPRandom(seed: 5)
        let paper = CGPShape.paper2
        var sawInactiveChange = false
        for _ in 0..<300 {
            let parent = CGPGenome.random(paper, using: &rng)
            let child = parent.mutated(paper, mutateInactive: true, using: &rng)
            let active = Set(parent.activeGenes(paper))
            let changed = parent.genes.indices.filter { parent.genes[$0] != child.genes[$0] }
            #expect(changed.filter(active.contains).count >= 1)
            if changed.contains(where: { !active.contains($0) }) { sawInactiveChange = true }
            #expect(paper.isValid(child.genes))
        }
        #expect(sawInactiveChange)
    }

    @Test func constantsAreExtraInputs() {
        let withConstant = CGPShape(rows: 1, columns: 1, levelsBack: 1,
                                    primitives: PrimitiveSet(unary: [], binary: [.mul]), constants: [0.5])
        let genome = CGPGenome(genes: [0, 0, 1, 2])
        #expect(genome.decode(withConstant) == .binary(.mul, .x, .constant(0.5)))
    }

    @Test func primitiveNamesParseAndUnknownOnesAreNamed() throws {
        #expect(try PrimitiveSet(names: ["relu", "max", "leaky_relu"]) == PrimitiveSet(unary: [.relu, .leakyRelu], binary: [.max]))
        #expect(throws: EvolutionError.self) { try PrimitiveSet(names: ["relu", "sigmod"]) }
        do { _ = try PrimitiveSet(names: ["sigmod"]) } catch { #expect("\(error)".contains("'sigmod'")) }
    }
}
