import Foundation
import Testing
@testable import Kernels

private func same(_ a: Double, _ b: Double) -> Bool { a == b || (a.isNaN && b.isNaN) }

/// Canonical form, hashes, symbolic derivatives and fingerprints on the CPU.
@Suite struct ExpressionAlgebraTests {
    static let random = RandomExpressions.make(1000)
    static let points: [Double] = [-9.7, -5, -3, -2.5, -1, -0.5, -0.3, 0, 1e-3, 0.3, 0.5, 1, 2.2, 3, 6, 8.8, 25]

    @Test func randomExpressionsPrintAndParseBack() throws {
        for e in Self.random {
            #expect(try ActivationExpr.parse(e.description) == e, "\(e)")
        }
    }

    @Test func canonicalIsIdempotentAndPreservesValues() {
        var changed = 0
        for e in Self.random {
            let c = e.canonical
            if c != e { changed += 1 }
            #expect(c.canonical == c, "\(e) -> \(c) -> \(c.canonical)")
            #expect(c.size <= e.size)
            for x in Self.points {
                #expect(same(c.evaluate(x), e.evaluate(x)), "\(e) vs \(c) at \(x)")
            }
        }
        #expect(changed > 100, "the simplifier should change a good share of random trees")
    }

    @Test(arguments: [
        ("x * 1", "x"), ("1 * x + 0", "x"), ("0 + x * 1 / 1", "x"), ("-(-x)", "x"), ("x - 3", "-3 + x"),
        ("2 * 3 + x", "6 + x"), ("sigmoid(x) * x", "x * sigmoid(x)"), ("max(x, 0)", "max(0, x)"),
        ("x + x", "2 * x"), ("abs(abs(-x))", "abs(x)"), ("relu(relu(x))", "relu(x)"), ("min(x, x)", "x"),
        ("-1 * tanh(x)", "-tanh(x)"), ("0 - x", "-x"), ("exp(0) * x", "x"), ("x * 0", "0 * x"),
        ("log(0) + x", "x + log(0)"), ("prelu(x * 1; a=0.25)", "prelu(x; a=0.25)"),
    ])
    func canonicalRules(_ input: String, _ expected: String) throws {
        #expect(try ActivationExpr.parse(input).canonical.description == expected)
    }

    @Test func canonicalHashIsFNV1aOfThePrintedCanonicalForm() throws {
        // Expected digests computed independently with Python's integer arithmetic.
        #expect(try ActivationExpr.parse("x * 1").canonicalHash == 0xaf63_f54c_8602_1707)
        #expect(try ActivationExpr.parse("sigmoid(x) * x").canonicalHash == 0xa4c8_0c93_a692_0fd4)
        #expect(try ActivationExpr.parse("x").canonicalHashHex == "af63f54c86021707")
    }

    @Test func fingerprintsJoinEqualFunctionsAndSplitDifferentOnes() throws {
        func fp(_ s: String) throws -> Fingerprint { try ActivationExpr.parse(s).fingerprint }
        #expect(Fingerprint.grid.count >= 1000)
        #expect(Fingerprint.grid.contains(10) && Fingerprint.grid.contains(-10) && Fingerprint.grid.contains(1e6))
        #expect(try fp("x * 2") == fp("x + x"))
        #expect(try fp("silu(x)") == fp("x * sigmoid(x)"))
        #expect(try fp("max(x, 0)") == fp("relu(x)"))
        #expect(try fp("tanh(x)") == fp("2 * sigmoid(2 * x) - 1"))
        #expect(try fp("celu(x)") == fp("elu(x)"))
        #expect(try fp("relu(x)") != fp("leaky_relu(x)"))
        #expect(try fp("log(x)") != fp("log_safe(x)"))
        #expect(try fp("x") != fp("x + 1e-4"))
        #expect(try fp("softmax(x)") != fp("softmin(x)"))
        let distinct = Set(Menu.paper1.entries.map(\.expression.fingerprint))
        #expect(distinct.count == 47)  // CELU and ELU are the same function at alpha = 1
    }

    static let kinks: [(String, [(Double, Double)])] = [
        ("relu(x)", [(0.0, 0.0), (1, 1), (-1, 0)]), ("abs(x)", [(0, 0), (-2, -1)]),
        ("hardtanh(x)", [(1, 0), (-1, 0), (0.5, 1)]), ("elu(x)", [(0, 1), (-1, exp(-1.0))]),
        ("hardswish(x)", [(-3, 0), (3, 1), (-4, 0), (4, 1), (0, 0.5), (-2.9999, -2.9999 / 3 + 0.5)]),
        ("max(x, 2 * x)", [(0, 1.5), (1, 2), (-1, 1)]), ("hardshrink(x)", [(0.5, 0), (0.6, 1)]),
        ("relu6(x)", [(0, 0), (6, 0), (3, 1)]), ("prelu(x; a=0.25)", [(0, 0.25), (-1, 0.25), (1, 1)]),
        ("selu(x)", [(0, 1.0507009873554805 * 1.6732632423543772), (1, 1.0507009873554805)]),
        ]

    @Test(arguments: kinks)
    func derivativeKinksFollowPyTorch(_ text: String, _ cases: [(Double, Double)]) throws {
        let d = try ActivationExpr.parse(text).derivative()
        for (x, expected) in cases {
            #expect(abs(d.evaluate(x) - expected) < 1e-9, "\(text)'(\(x)) = \(d.evaluate(x)) via \(d)")
        }
    }

    @Test func derivativeMatchesCentralDifferencesWhereSmooth() {
        var checked = 0
        for e in Self.random {
            let d = e.derivative()
            for x in Self.points {
                guard let fd = smoothCentralDifference(e, x) else { continue }
                checked += 1
                let v = d.evaluate(x)
                #expect(abs(v - fd) <= 1e-4 * max(1, abs(fd)), "\(e)'(\(x)) = \(v), differences \(fd), via \(d)")
            }
        }
        #expect(checked > 5000)
    }

    @Test func parameterDerivatives() throws {
        let e = try ActivationExpr.parse("param(k=1.5) * tanh(x) + prelu(x; a=0.25)")
        for x in [-2.0, -0.5, 0.7, 3] {
            for (name, value) in [("k", 1.5), ("a", 0.25)] {
                let h = 1e-6
                let plus = e.evaluate(x, bindings: [name: value + h]), minus = e.evaluate(x, bindings: [name: value - h])
                #expect(abs(e.derivative(parameter: name).evaluate(x) - (plus - minus) / (2 * h)) < 1e-7)
            }
        }
        #expect(e.derivative(parameter: "nope") == .constant(0))
    }
}

/// (f(x+h) − f(x−h)) / 2h in Double, or nil where f is not smooth around x: the one-sided slopes
/// disagree (a kink), the estimate changes with h, or a value is not finite.
func smoothCentralDifference(_ e: ActivationExpr, _ x: Double) -> Double? {
    let h = 1e-6 * max(1, abs(x))
    let f0 = e.evaluate(x), fp = e.evaluate(x + h), fm = e.evaluate(x - h)
    let fp4 = e.evaluate(x + h / 4), fm4 = e.evaluate(x - h / 4)
    guard [f0, fp, fm, fp4, fm4].allSatisfy(\.isFinite), intermediatesAreFinite(e, x) else { return nil }
    let central = (fp - fm) / (2 * h), narrow = (fp4 - fm4) / (h / 2)
    let forward = (fp - f0) / h, backward = (f0 - fm) / h
    let scale = max(1, abs(central))
    guard abs(forward - backward) <= 1e-4 * scale, abs(central - narrow) <= 1e-6 * scale, abs(central) < 1e6 else {
        return nil
    }
    return central
}

/// True when every subexpression is finite at x (an infinite intermediate makes autograd-style
/// derivatives NaN even where the function itself is flat) and no max/min is at a tie (where the
/// convention averages the sides, which differences need not reproduce).
func intermediatesAreFinite(_ e: ActivationExpr, _ x: Double) -> Bool {
    var ok = true
    e.visit { node in
        guard ok else { return }
        if !node.evaluate(x).isFinite { ok = false }
        if case .binary(let op, let a, let b) = node, op == .max || op == .min, a.evaluate(x) == b.evaluate(x) { ok = false }
    }
    return ok
}
