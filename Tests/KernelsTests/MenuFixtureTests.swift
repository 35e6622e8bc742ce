import Foundation
import Testing
@testable import Kernels

/// Every element-wise menu function on the device against PyTorch's values and autograd derivatives
/// (Tests/Fixtures/activations/menus.tsv, written by scripts/make-activation-fixtures.py).
@Suite struct MenuFixtureTests {
    struct Reference {
        var xs: [Float] = []
        var value: [Double] = []
        var derivative: [Double] = []
        var dparam: [Double?] = []
    }

    static let references: [String: Reference] = {
        var refs: [String: Reference] = [:]
        for row in try! Fixtures.rows("menus.tsv") {
            var r = refs[row[0], default: Reference()]
            r.xs.append(Float(Double(row[1])!))
            r.value.append(Double(row[2])!)
            r.derivative.append(Double(row[3])!)
            r.dparam.append(Double(row[4]))
            refs[row[0]] = r
        }
        return refs
    }()

    /// Every element-wise function of every menu (paper1's 44, the unary primitives of paper2 and default),
    /// one entry per name.
    static let elementwise: [MenuEntry] = {
        var seen = Set<String>()
        return (Menu.paper1.entries + Menu.paper2.entries + Menu.default.entries).filter {
            $0.arity == 1 && !$0.isLayerwise && seen.insert($0.name).inserted
        }
    }()
    static let grid = try! DeviceGrid(elementwise.map(\.expression))

    @Test func fixtureCoversEveryElementwiseFunctionAtFiftyPoints() {
        #expect(Menu.paper1.entries.count == 48)
        #expect(Self.elementwise.count == 49)
        for entry in Self.elementwise {
            let xs = Self.references[entry.name]?.xs ?? []
            #expect(xs.count >= 50, "\(entry.name)")
            for edge: Float in [0, 1e-6, -1e-6, 1, -1, 20, -20, 100, -100] { #expect(xs.contains(edge)) }
        }
    }

    @Test func deviceValuesAndDerivativesMatchPyTorch() throws {
        let xs = Self.references["ReLU"]!.xs
        let result = try Self.grid.evaluate(at: xs)
        for (i, entry) in Self.elementwise.enumerated() {
            let ref = Self.references[entry.name]!
            #expect(ref.xs == xs)
            for j in xs.indices {
                let v = Double(result.value[i][j]), d = Double(result.slope[i][j])
                #expect(close(v, ref.value[j]), "\(entry.name)(\(xs[j])) = \(v), PyTorch \(ref.value[j])")
                #expect(close(d, ref.derivative[j]), "\(entry.name)'(\(xs[j])) = \(d), PyTorch \(ref.derivative[j])")
            }
        }
    }

    @Test func preluParameterDerivativeMatchesPyTorch() throws {
        let i = Self.elementwise.firstIndex { $0.name == "PReLU" }!
        let ref = Self.references["PReLU"]!
        let slopes = try Self.grid.parameterSlope(0, at: ref.xs)
        for j in ref.xs.indices {
            #expect(close(Double(slopes[i][j]), ref.dparam[j]!), "dPReLU/da at \(ref.xs[j])")
        }
    }

    @Test func swiftReferenceMatchesPyTorchWhereFloatDoesNotOverflow() {
        for entry in Self.elementwise {
            let ref = Self.references[entry.name]!
            for j in ref.xs.indices where ref.value[j].isFinite {
                let v = entry.expression.evaluate(Double(ref.xs[j]))
                #expect(close(v, ref.value[j], tolerance: 1e-5), "\(entry.name)(\(ref.xs[j])): Swift \(v), PyTorch \(ref.value[j])")
            }
        }
    }

    @Test func layerwiseRowsMatchPyTorch() throws {
        for row in try Fixtures.rows("layerwise.tsv") {
            let expr = Menu.paper1.entry(named: row[0])!.expression
            let inputs = row[2].split(separator: ",").map { Double($0)! }
            let outputs = row[3].split(separator: ",").map { Double($0)! }
            let mine = expr.evaluateRow(inputs)
            for (a, b) in zip(mine, outputs) { #expect(close(a, b, tolerance: 1e-12), "\(row[0]) row \(row[1])") }
        }
    }
}
