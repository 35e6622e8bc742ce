import Foundation
import Testing
@testable import Kernels

/// The parser's size and depth limits: past them a clear error, fast; below them parsing, canonical form,
/// derivative, fingerprint and code generation all finish well under a second.
@Suite struct ExpressionLimitsTests {
    private static func nested(_ open: String, _ n: Int, _ close: String = ")") -> String {
        String(repeating: open, count: n) + "x" + String(repeating: close, count: n)
    }

    private static func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = Date()
        try body()
        return Date().timeIntervalSince(start)
    }

    private static func parseError(_ text: String) -> ExpressionParseError? {
        do {
            _ = try ActivationExpr.parse(text)
            return nil
        } catch {
            return error
        }
    }

    /// Inputs past a limit, by name (the texts are long; a failure prints the name), with what the error says.
    static let overALimit: [String: (text: String, says: String)] = [
        "20,000 nested parentheses": (nested("(", 20_000), "characters long; the limit is 20000"),
        "10,000 nested sin(": (nested("sin(", 10_000), "characters long"),
        "2,000 nested sin(": (nested("sin(", 2_000), "nests deeper than 100 levels"),
        "101 nested tanh(": (nested("tanh(", 101), "nests deeper than 100 levels"),
        "5,000 nested parentheses": (nested("(", 5_000), "nests deeper than 100 levels"),
        "20,000 signs": (String(repeating: "-", count: 19_000) + "x", "nests deeper than 100 levels"),
        "x+x+… with 4,000 terms": (Array(repeating: "x", count: 4_000).joined(separator: "+"), "nests deeper than 100 levels"),
        "x*x*… with 150 factors": (Array(repeating: "x", count: 150).joined(separator: "*"), "nests deeper than 100 levels"),
    ]

    @Test(arguments: overALimit.keys.sorted())
    func pastALimitIsAClearErrorFast(_ name: String) throws {
        let (text, says) = try #require(Self.overALimit[name])
        var error: ExpressionParseError?
        let t = Self.seconds { error = Self.parseError(text) }
        #expect(error?.message.contains(says) == true, "\(name): \(String(describing: error))")
        #expect(t < 0.5, "\(name): \(t) s")
    }

    @Test func tooManyNodesIsAClearError() throws {
        // 1,200 nodes in a shallow tree: sums of 20 products, each under the depth limit.
        let group = "(" + Array(repeating: "sin(x)", count: 30).joined(separator: "+") + ")"
        let text = Array(repeating: group, count: 20).joined(separator: "*")
        let e = try #require(Self.parseError(text))
        #expect(e.message.contains("more than \(ExpressionLimits.maxNodes) operations"), "\(e)")
    }

    @Test func nestedPReLUCountsItsExpansion() throws {
        // prelu(E) repeats E three times; twelve levels would be 3^12 copies of x.
        let e = try #require(Self.parseError(Self.nested("prelu(", 12)))
        #expect(e.message.contains("more than \(ExpressionLimits.maxNodes)"), "\(e)")
        _ = try ActivationExpr.parse(Self.nested("prelu(", 4))
    }

    @Test func tooLongTextIsRejectedBeforeParsing() throws {
        let text = String(repeating: " ", count: ExpressionLimits.maxCharacters) + "x"
        let e = try #require(Self.parseError(text))
        #expect(e.message.contains("characters long"), "\(e)")
        #expect(abbreviatedExpressionText(text).count < 80)
        #expect(abbreviatedExpressionText("x*sigmoid(x)") == "x*sigmoid(x)")
    }

    static let underTheLimits: [(String, String)] = [
        ("99 nested sin(", nested("sin(", 99)),
        ("99 nested mish(", nested("mish(", 99)),
        ("x*x*… with 99 factors", Array(repeating: "x", count: 99).joined(separator: "*")),
        ("mish(x)*… with 99 factors", Array(repeating: "mish(x)", count: 99).joined(separator: "*")),
        ("x*mish(x*mish(… 45 deep", nested("x*mish(", 45)),
        ("x/(x/(… 48 deep", nested("x/(", 48)),
        ("eight products of 30 mish(x)", Array(repeating: "(" + Array(repeating: "mish(x)", count: 30).joined(separator: "*") + ")",
                                              count: 8).joined(separator: "+")),
        ("max(sin(… 30 deep", String(repeating: "max(sin(", count: 30) + "x" + String(repeating: "), x)", count: 30)),
    ]

    @Test(arguments: underTheLimits)
    func justUnderTheLimitsIsFast(_ name: String, _ text: String) throws {
        var source = ""
        let t = try Self.seconds {
            let e = try ActivationExpr.parse(text)
            _ = e.canonical
            _ = e.canonicalHash
            let d = e.derivative()
            _ = d.description
            _ = e.fingerprint
            source = ActivationCodegen.source(for: [e])
            #expect(try ActivationExpr.parse(e.description) == e)
        }
        #expect(!source.isEmpty)
        #expect(t < 1.0, "\(name): \(t) s")
    }

    @Test func deepExpressionsPrintWithoutRecursion() {
        // Built directly (not parsed), far past the parser's limit: printing must not exhaust the stack.
        var e = ActivationExpr.x
        for _ in 0..<50_000 { e = .unary(.sin, e) }
        #expect(e.description.count == 50_000 * 5 + 1)
        // Release iteratively, too: a deep indirect enum's recursive deinit is not this test's subject.
        var nodes: [ActivationExpr] = []
        while case .unary(_, let inner) = e { nodes.append(inner); e = inner }
        while !nodes.isEmpty { nodes.removeLast() }
    }
}
