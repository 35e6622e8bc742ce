import Foundation

// The infix syntax of activation expressions.
//
//   expr    := term (('+' | '-') term)*
//   term    := unary (('*' | '/') unary)*
//   unary   := '-' NUMBER          -> a negative constant (so printed constants read back unchanged)
//            | '-' unary           -> neg(...)
//            | '+' unary | primary
//   primary := NUMBER | 'x' | 'pi' | NAME '(' [expr (',' expr)*] [';' NAME '=' NUMBER (',' NAME '=' NUMBER)*] ')'
//            | '(' expr ')'
//
// NUMBER includes `inf` and `nan`. Unary functions take one argument, `max`/`min`/`add`/`sub`/`mul`/`div`
// two. `param(a=0.25)` is a learnable parameter; `prelu(E; a=0.25)` is PyTorch's PReLU with a learnable
// slope named `a`. The softmax family (`softmax(x)`, `softmin(x)`, `log_softmax(x)`, `gumbel_softmax(x)`)
// is allowed only as the whole expression, applied to `x`.

/// A malformed expression: `message` names what was found and what was expected; `column` is 1-based.
public struct ExpressionParseError: Error, CustomStringConvertible, Equatable, Sendable {
    public var message: String
    public var column: Int
    /// Extra advice appended after the column ("did you mean 'sigmoid'?").
    public var hint: String?

    public init(_ message: String, column: Int, hint: String? = nil) {
        self.message = message
        self.column = column
        self.hint = hint
    }

    public var description: String {
        "\(message) at column \(column)" + (hint.map { "; \($0)" } ?? "")
    }
}

/// How large a typed expression may be. An activation function is a short formula; these bounds keep the
/// recursive parser, canonical form, derivative, fingerprint and code generation well under a second (their
/// cost grows with size × depth) and far from the stack's end, and a longer input gets a clear error instead.
public enum ExpressionLimits {
    /// Most nodes (numbers, x, parameters, operators, function calls) in one expression.
    public static let maxNodes = 1_000
    /// Deepest nesting: every function call, operator, unary sign and parenthesised group is one level, and a
    /// chain such as `x + x + … + x` nests one level per operator (it parses as ((x + x) + x) + …).
    public static let maxDepth = 100
    /// Longest text, in characters (checked before anything else is read).
    public static let maxCharacters = 20_000
}

/// An expression's text for an error message: as typed when short, else its first 48 characters, "…" and
/// the length (a 20,000-character input should not fill the terminal).
public func abbreviatedExpressionText(_ text: String) -> String {
    guard text.count > 64 else { return text }
    return String(text.prefix(48)) + "… (\(text.count) characters)"
}

extension ActivationExpr {
    /// Parses the infix syntax (see the grammar at the top of ExpressionParser.swift).
    /// `parse(e.description) == e` for every expression the printer produces within `ExpressionLimits`.
    public static func parse(_ text: String) throws(ExpressionParseError) -> ActivationExpr {
        var parser = ExpressionParser(text)
        return try parser.parseWhole()
    }
}

/// PReLU's `a` when `prelu(x)` names no initial value (PyTorch's default).
let preluDefaultSlope = 0.25

/// Names the parser accepts for unary ops besides their raw values.
let unaryAliases: [String: UnaryOp] = [
    "leakyrelu": .leakyRelu, "log_sigmoid": .logSigmoid, "swish": .silu, "logsafe": .logSafe,
    "heaviside": .step, "sgn": .sign, "relu_6": .relu6,
]

let binaryFunctionNames: [String: BinaryOp] = [
    "max": .max, "min": .min, "add": .add, "sub": .sub, "mul": .mul, "div": .div,
]

private enum Token: Equatable {
    case number(Double)
    case name(String)
    case symbol(Character)
    case end
}

struct ExpressionParser {
    private let chars: [Character]
    private var index = 0
    private var token: Token = .end
    private var tokenColumn = 1
    /// Initial values of parameters seen so far, to reject conflicting redefinitions.
    private var parameterInitials: [String: Double] = [:]
    /// Nesting level of the node being parsed (see `ExpressionLimits.maxDepth`).
    private var depth = 0
    /// Nodes built so far (see `ExpressionLimits.maxNodes`).
    private var nodes = 0

    init(_ text: String) {
        chars = Array(text)
    }

    mutating func parseWhole() throws(ExpressionParseError) -> ActivationExpr {
        if chars.count > ExpressionLimits.maxCharacters {
            throw ExpressionParseError(
                "expression is \(chars.count) characters long; the limit is \(ExpressionLimits.maxCharacters)",
                column: ExpressionLimits.maxCharacters + 1, hint: "an activation function is a short formula")
        }
        try advance()
        if token == .end {
            throw ExpressionParseError("empty expression", column: 1, hint: "expected something like 'x * sigmoid(x)'")
        }
        // The softmax family: only as the whole expression, applied to x.
        if case .name(let name) = token, let op = LayerwiseOp(rawValue: name.lowercased()) {
            let startColumn = tokenColumn
            try advance()
            try expect("(", after: "'\(name)'")
            guard case .name("x") = token else {
                throw ExpressionParseError(
                    "'\(op.rawValue)' normalises across a layer's units and applies only to x", column: tokenColumn)
            }
            try advance()
            try expect(")", after: "'\(op.rawValue)(x'")
            guard token == .end else {
                throw ExpressionParseError(
                    "'\(op.rawValue)(x)' must be the whole expression (it normalises across a layer's units)",
                    column: startColumn)
            }
            return .layerwise(op)
        }
        let expr = try parseSum()
        guard token == .end else { throw unexpected("an operator or the end of the expression") }
        return expr
    }

    // MARK: grammar

    /// Enters one nesting level; the parser's recursion is bounded by `ExpressionLimits.maxDepth`.
    private mutating func descend(column: Int) throws(ExpressionParseError) {
        depth += 1
        if depth > ExpressionLimits.maxDepth {
            throw ExpressionParseError(
                "expression nests deeper than \(ExpressionLimits.maxDepth) levels", column: column,
                hint: "each function call, operator, sign and parenthesis is one level, and a chain like x + x + … one per operator")
        }
    }

    /// Counts one node; an expression has at most `ExpressionLimits.maxNodes`.
    private mutating func count(column: Int) throws(ExpressionParseError) {
        nodes += 1
        if nodes > ExpressionLimits.maxNodes {
            throw ExpressionParseError(
                "expression has more than \(ExpressionLimits.maxNodes) operations and operands", column: column,
                hint: "an activation function is a short formula")
        }
    }

    private mutating func parseSum() throws(ExpressionParseError) -> ActivationExpr {
        let entryDepth = depth
        defer { depth = entryDepth }
        var lhs = try parseProduct()
        while case .symbol(let c) = token, c == "+" || c == "-" {
            // The chain so far becomes the left operand of a new node: one level deeper.
            try descend(column: tokenColumn)
            try count(column: tokenColumn)
            try advance()
            let rhs = try parseProduct()
            lhs = .binary(c == "+" ? .add : .sub, lhs, rhs)
        }
        return lhs
    }

    private mutating func parseProduct() throws(ExpressionParseError) -> ActivationExpr {
        let entryDepth = depth
        defer { depth = entryDepth }
        var lhs = try parseUnary()
        while case .symbol(let c) = token, c == "*" || c == "/" {
            try descend(column: tokenColumn)
            try count(column: tokenColumn)
            try advance()
            let rhs = try parseUnary()
            lhs = .binary(c == "*" ? .mul : .div, lhs, rhs)
        }
        return lhs
    }

    private mutating func parseUnary() throws(ExpressionParseError) -> ActivationExpr {
        if token == .symbol("-") {
            let entryDepth = depth
            defer { depth = entryDepth }
            try descend(column: tokenColumn)
            try advance()
            if case .number(let v) = token {
                try count(column: tokenColumn)
                try advance()
                return .constant(-v)
            }
            try count(column: tokenColumn)
            return .unary(.neg, try parseUnary())
        }
        if token == .symbol("+") {
            let entryDepth = depth
            defer { depth = entryDepth }
            try descend(column: tokenColumn)
            try advance()
            return try parseUnary()
        }
        return try parsePrimary()
    }

    private mutating func parsePrimary() throws(ExpressionParseError) -> ActivationExpr {
        let column = tokenColumn
        let entryDepth = depth
        defer { depth = entryDepth }
        switch token {
        case .number(let v):
            try count(column: column)
            try advance()
            return .constant(v)
        case .symbol("("):
            try descend(column: column)
            try advance()
            let inner = try parseSum()
            try expect(")", after: "a parenthesised expression")
            return inner
        case .name(let name):
            try count(column: column)
            try advance()
            if token == .symbol("(") {
                try descend(column: column)
                return try parseCall(name, column: column)
            }
            switch name {
            case "x": return .x
            case "pi": return .constant(Double.pi)
            default:
                if isFunctionName(name) {
                    throw ExpressionParseError("function '\(name)' needs arguments", column: column,
                                               hint: "write '\(name)(x)'")
                }
                throw ExpressionParseError("unknown variable '\(name)'", column: column,
                                           hint: "expressions have one input, x")
            }
        default:
            throw unexpected("a number, x, a function call or '('")
        }
    }

    private mutating func parseCall(_ rawName: String, column: Int) throws(ExpressionParseError) -> ActivationExpr {
        let name = rawName.lowercased()
        try advance()  // past '('
        var args: [ActivationExpr] = []
        var settings: [(name: String, value: Double, column: Int)] = []
        let nodesBeforeArguments = nodes
        if name != "param" && token != .symbol(")") && token != .symbol(";") {
            args.append(try parseSum())
            while token == .symbol(",") {
                try advance()
                args.append(try parseSum())
            }
        }
        if token == .symbol(";") || (name == "param" && args.isEmpty) {
            if token == .symbol(";") { try advance() }
            repeat {
                if token == .symbol(",") { try advance() }
                let settingColumn = tokenColumn
                guard case .name(let key) = token else { throw unexpected("a setting such as 'a=0.25'") }
                try advance()
                try expect("=", after: "'\(key)'")
                var sign = 1.0
                if token == .symbol("-") { sign = -1; try advance() }
                guard case .number(let v) = token else { throw unexpected("a number for '\(key)'") }
                try advance()
                settings.append((key, sign * v, settingColumn))
            } while token == .symbol(",")
        }
        try expect(")", after: "the arguments of '\(name)'")

        if LayerwiseOp(rawValue: name) != nil {
            throw ExpressionParseError(
                "'\(name)' normalises across a layer's units and must be the whole expression, applied to x",
                column: column)
        }
        if name == "param" {
            guard args.isEmpty, settings.count == 1 else {
                throw ExpressionParseError("'param' takes exactly one setting", column: column,
                                           hint: "write 'param(a=0.25)'")
            }
            return try parameter(settings[0].name, settings[0].value, column: settings[0].column)
        }
        if name == "prelu" {
            try requireArgs(name, args, 1, column: column)
            guard settings.count <= 1 else {
                throw ExpressionParseError("'prelu' takes one setting, its slope", column: column,
                                           hint: "write 'prelu(x; a=0.25)'")
            }
            let slope: ActivationExpr
            if let s = settings.first {
                slope = try parameter(s.name, s.value, column: s.column)
            } else {
                slope = try parameter("a", preluDefaultSlope, column: column)
            }
            // prelu(E) expands to relu(E) + a * (E - relu(E)): E three times, four more nodes.
            nodes += 2 * (nodes - nodesBeforeArguments) + 4
            try count(column: column)
            return ActivationExpr.prelu(args[0], slope: slope)
        }
        if let setting = settings.first {
            throw ExpressionParseError("'\(name)' takes no settings such as '\(setting.name)='", column: setting.column,
                                       hint: "its hyper-parameters are PyTorch's defaults")
        }
        if let op = UnaryOp(rawValue: name) ?? unaryAliases[name] {
            try requireArgs(name, args, 1, column: column)
            return .unary(op, args[0])
        }
        if let op = binaryFunctionNames[name] {
            try requireArgs(name, args, 2, column: column)
            return .binary(op, args[0], args[1])
        }
        let hint = closestFunctionName(to: name).map { "did you mean '\($0)'?" }
        throw ExpressionParseError("unknown function '\(rawName)'", column: column, hint: hint)
    }

    private mutating func parameter(_ name: String, _ initial: Double, column: Int) throws(ExpressionParseError) -> ActivationExpr {
        if name == "x" || isFunctionName(name) || name == "pi" {
            throw ExpressionParseError("'\(name)' cannot name a parameter", column: column)
        }
        if let previous = parameterInitials[name], previous != initial {
            throw ExpressionParseError(
                "parameter '\(name)' was given initial value \(formatConstant(previous)) before, now \(formatConstant(initial))",
                column: column, hint: "one name is one parameter")
        }
        guard initial.isFinite else {
            throw ExpressionParseError("parameter '\(name)' needs a finite initial value", column: column)
        }
        parameterInitials[name] = initial
        return .parameter(name: name, initial: initial)
    }

    private func requireArgs(_ name: String, _ args: [ActivationExpr], _ n: Int, column: Int) throws(ExpressionParseError) {
        guard args.count == n else {
            throw ExpressionParseError(
                "'\(name)' takes \(n) argument\(n == 1 ? "" : "s"), got \(args.count)", column: column)
        }
    }

    private mutating func expect(_ symbol: Character, after what: String) throws(ExpressionParseError) {
        guard token == .symbol(symbol) else { throw unexpected("'\(symbol)' after \(what)") }
        try advance()
    }

    private func unexpected(_ expected: String) -> ExpressionParseError {
        if token == .symbol("^") {
            return ExpressionParseError("'^' is not supported", column: tokenColumn, hint: "use square(x) or x * x")
        }
        let found: String
        switch token {
        case .end: found = "end of expression"
        case .number(let v): found = "number \(formatConstant(v))"
        case .name(let n): found = "'\(n)'"
        case .symbol(let c): found = "'\(c)'"
        }
        return ExpressionParseError("expected \(expected), found \(found)", column: tokenColumn)
    }

    // MARK: lexer

    private mutating func advance() throws(ExpressionParseError) {
        while index < chars.count, chars[index].isWhitespace { index += 1 }
        tokenColumn = index + 1
        guard index < chars.count else {
            token = .end
            return
        }
        let c = chars[index]
        if c.isASCII && (c.isNumber || (c == "." && index + 1 < chars.count && chars[index + 1].isNumber)) {
            let start = index
            while index < chars.count, chars[index].isASCII, chars[index].isNumber || chars[index] == "." { index += 1 }
            if index < chars.count, chars[index] == "e" || chars[index] == "E" {
                var j = index + 1
                if j < chars.count, chars[j] == "+" || chars[j] == "-" { j += 1 }
                if j < chars.count, chars[j].isASCII, chars[j].isNumber {
                    index = j
                    while index < chars.count, chars[index].isASCII, chars[index].isNumber { index += 1 }
                }
            }
            let text = String(chars[start..<index])
            guard let v = Double(text) else {
                throw ExpressionParseError("malformed number '\(text)'", column: start + 1)
            }
            // The device computes in float32: a larger literal would be inf there and finite in the Double reference.
            if v.isInfinite || v > Double(Float.greatestFiniteMagnitude) {
                throw ExpressionParseError("number \(text) is beyond float32's range (±3.4028235e38), in which the device computes",
                                           column: start + 1, hint: "write inf if infinity is meant")
            }
            token = .number(v)
            return
        }
        if c.isLetter || c == "_" {
            let start = index
            while index < chars.count, chars[index].isLetter || chars[index].isNumber || chars[index] == "_" { index += 1 }
            let word = String(chars[start..<index])
            switch word.lowercased() {
            case "inf", "infinity": token = .number(.infinity)
            case "nan": token = .number(.nan)
            default: token = .name(word)
            }
            return
        }
        if "+-*/(),;=^".contains(c) {
            index += 1
            token = .symbol(c)
            return
        }
        throw ExpressionParseError("unexpected character '\(c)'", column: index + 1,
                                   hint: "expected a number, x, a function name, an operator or a parenthesis")
    }
}

// MARK: names and suggestions

/// Every function name the parser knows (canonical names and aliases).
let allFunctionNames: [String] = {
    var names = UnaryOp.allCases.map(\.rawValue) + Array(unaryAliases.keys) + Array(binaryFunctionNames.keys)
    names += LayerwiseOp.allCases.map(\.rawValue) + ["prelu", "param"]
    return names.sorted()
}()

private func isFunctionName(_ name: String) -> Bool {
    allFunctionNames.contains(name.lowercased())
}

/// The known function name nearest in edit distance, when it is close enough to be a likely typo.
func closestFunctionName(to name: String) -> String? {
    let target = Array(name.lowercased())
    var best: (name: String, distance: Int)?
    for candidate in allFunctionNames {
        let d = editDistance(target, Array(candidate))
        if best == nil || d < best!.distance { best = (candidate, d) }
    }
    guard let best, best.distance <= max(1, min(3, target.count / 3)) else { return nil }
    return best.name
}

private func editDistance(_ a: [Character], _ b: [Character]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
            current[j] = min(substitution, previous[j] + 1, current[j - 1] + 1)
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}
