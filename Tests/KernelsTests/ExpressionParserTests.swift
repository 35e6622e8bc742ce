import Testing
@testable import Kernels

@Suite struct ExpressionParserTests {
    @Test func parsesInfixWithPrecedence() throws {
        let e = try ActivationExpr.parse("1 - 2*exp(-0.7*exp(x))")
        #expect(e == .binary(.sub, .constant(1),
                             .binary(.mul, .constant(2),
                                     .unary(.exp, .binary(.mul, .constant(-0.7), .unary(.exp, .x))))))
        #expect(try ActivationExpr.parse("x * sigmoid(x)") == .binary(.mul, .x, .unary(.sigmoid, .x)))
        #expect(try ActivationExpr.parse("max(x, 0.1*x)") == .binary(.max, .x, .binary(.mul, .constant(0.1), .x)))
        #expect(try ActivationExpr.parse("a - b - c".replacingOccurrences(of: "a", with: "x")
            .replacingOccurrences(of: "b", with: "1").replacingOccurrences(of: "c", with: "2"))
            == .binary(.sub, .binary(.sub, .x, .constant(1)), .constant(2)))
        #expect(try ActivationExpr.parse("-x*2") == .binary(.mul, .unary(.neg, .x), .constant(2)))
        #expect(try ActivationExpr.parse("softmax(x)") == .layerwise(.softmax))
        #expect(try ActivationExpr.parse("SWISH(x)") == .unary(.silu, .x))
    }

    @Test func preluHasALearnableSlope() throws {
        let e = try ActivationExpr.parse("prelu(x; a=0.3)")
        #expect(e.parameters.map(\.name) == ["a"])
        #expect(e.parameters.map(\.initial) == [0.3])
        #expect(e.evaluate(-2) == -0.6)
        #expect(e.evaluate(-2, parameters: [0.5]) == -1)
        #expect(e.evaluate(3) == 3)
        #expect(e.description == "prelu(x; a=0.3)")
        #expect(try ActivationExpr.parse("prelu(x)").parameters.map(\.initial) == [0.25])
        let two = try ActivationExpr.parse("param(b=2) * x + prelu(x; a=0.25) * param(b=2)")
        #expect(two.parameters.map(\.name) == ["b", "a"])
    }

    @Test(arguments: [
        "x", "-x", "--x", "-(2)", "--2", "x - -2", "x * -0.7", "1 - 2 * exp(-0.7 * exp(x))",
        "x - (1 - x)", "x / (x / 2)", "(x + 1) * (x - 1)", "-(x * x)", "max(x, 0.1 * x) + min(x, 0)",
        "prelu(x; a=0.25)", "prelu(sin(x) * 2; slope=0.1)", "param(k=1.5) * tanh(x)", "1e-07 * x",
        "x * 1e+20", "log_softmax(x)", "gumbel_softmax(x)", "-inf", "x + inf", "-(-0)", "-0 + x",
        "leaky_relu(x) + logsigmoid(x) - log_safe(x)", "0.1 + 0.2", "x * 3.141592653589793",
    ])
    func printThenParseGivesTheSameExpression(_ text: String) throws {
        let e = try ActivationExpr.parse(text)
        let again = try ActivationExpr.parse(e.description)
        #expect(again == e, "\(text) printed as \(e.description)")
        #expect(again.description == e.description)
    }

    @Test(arguments: [
        ("sigmod(x)", 1, "unknown function 'sigmod' at column 1; did you mean 'sigmoid'?"),
        ("x * sigmod(x)", 5, "unknown function 'sigmod' at column 5; did you mean 'sigmoid'?"),
        ("x +", 4, "expected a number, x, a function call or '(', found end of expression at column 4"),
        ("", 1, "empty expression at column 1; expected something like 'x * sigmoid(x)'"),
        ("y + 1", 1, "unknown variable 'y' at column 1; expressions have one input, x"),
        ("tanh(x", 7, "expected ')' after the arguments of 'tanh', found end of expression at column 7"),
        ("max(x)", 1, "'max' takes 2 arguments, got 1 at column 1"),
        ("tanh(x, x)", 1, "'tanh' takes 1 argument, got 2 at column 1"),
        ("x $ 2", 3, "unexpected character '$' at column 3; expected a number, x, a function name, an operator or a parenthesis"),
        ("x ^ 2", 3, "'^' is not supported at column 3; use square(x) or x * x"),
        ("softmax(x) + 1", 1, "'softmax(x)' must be the whole expression (it normalises across a layer's units) at column 1"),
        ("x + softmax(x)", 5, "'softmax' normalises across a layer's units and must be the whole expression, applied to x at column 5"),
        ("softmax(2 * x)", 9, "'softmax' normalises across a layer's units and applies only to x at column 9"),
        ("elu(x; alpha=2)", 8, "'elu' takes no settings such as 'alpha=' at column 8; its hyper-parameters are PyTorch's defaults"),
        ("prelu(x; a=0.25) + prelu(x; a=0.5)", 29, "parameter 'a' was given initial value 0.25 before, now 0.5 at column 29; one name is one parameter"),
        ("x x", 3, "expected an operator or the end of the expression, found 'x' at column 3"),
        ("tanh + x", 1, "function 'tanh' needs arguments at column 1; write 'tanh(x)'"),
        ("(x + 1))", 8, "expected an operator or the end of the expression, found ')' at column 8"),
    ])
    func malformedInputsGetAColumnAndAnExpectation(_ text: String, _ column: Int, _ message: String) {
        #expect {
            _ = try ActivationExpr.parse(text)
        } throws: { error in
            guard let e = error as? ExpressionParseError else { return false }
            #expect(e.column == column)
            #expect(e.description == message)
            return true
        }
    }
}
