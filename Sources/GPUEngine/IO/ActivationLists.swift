import Foundation
import Kernels

/// A bad activation list on the command line or in a population file: where (file:line or the flag), which
/// entry, and the parser's message.
public struct ActivationListError: Error, CustomStringConvertible, Equatable {
    /// `--activations` or `FILE:LINE`.
    public var location: String
    /// 1-based entry in the comma-separated list; nil when the problem is the list as a whole.
    public var entry: Int?
    public var message: String

    public var description: String {
        "\(location)" + (entry.map { ": activation \($0)" } ?? "") + ": \(message)"
    }
}

/// Comma-separated activation lists (`relu,tanh,x*sigmoid(x),none`) as `afsearch train` reads them from
/// `--activations` and from population files.
///
/// An entry is an expression in the infix syntax of `ActivationExpr.parse`, or a bare function name
/// (`relu` means `relu(x)`), or `none` / `identity` (the identity, `x`). Commas inside parentheses belong to
/// the entry (`max(x,0)`).
public enum ActivationLists {
    /// Splits at commas outside parentheses; an unbalanced list yields the pieces as far as they go and the
    /// entry parser reports the error.
    public static func split(_ text: String) -> [String] {
        var parts: [String] = []
        var current = ""
        var depth = 0
        for ch in text {
            switch ch {
            case "(": depth += 1; current.append(ch)
            case ")": depth -= 1; current.append(ch)
            case "," where depth <= 0: parts.append(current); current = ""
            default: current.append(ch)
            }
        }
        parts.append(current)
        return parts.map { $0.trimmingCharacters(in: .whitespaces) }
    }

    public static func parseEntry(_ text: String) throws(ExpressionParseError) -> ActivationExpr {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if ["none", "identity", "linear"].contains(trimmed.lowercased()) { return .x }
        let isBareName = trimmed.first.map { $0.isLetter || $0 == "_" } == true
            && trimmed.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }
            && !["x", "pi", "inf", "nan"].contains(trimmed)
        if isBareName, let expr = try? ActivationExpr.parse("\(trimmed)(x)") { return expr }
        return try ActivationExpr.parse(trimmed)
    }

    /// Parses one list; `location` names it in errors.
    public static func parse(_ text: String, location: String) throws(ActivationListError) -> [ActivationExpr] {
        let parts = split(text)
        guard !(parts.count == 1 && parts[0].isEmpty) else {
            throw ActivationListError(location: location, entry: nil, message: "empty activation list")
        }
        var out: [ActivationExpr] = []
        for (i, part) in parts.enumerated() {
            guard !part.isEmpty else {
                throw ActivationListError(location: location, entry: i + 1, message: "empty entry (two commas in a row, or a trailing comma?)")
            }
            do {
                out.append(try parseEntry(part))
            } catch {
                throw ActivationListError(location: location, entry: i + 1, message: "'\(abbreviatedExpressionText(part))': \(error.description)")
            }
        }
        return out
    }

    /// A population file: one list per line; blank lines and everything after `#` are ignored.
    /// Returns the lists with their 1-based line numbers.
    public static func parseFile(_ text: String, name: String) throws(ActivationListError) -> [(line: Int, activations: [ActivationExpr])] {
        var out: [(line: Int, activations: [ActivationExpr])] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let content = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            let line = content.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty { continue }
            out.append((index + 1, try parse(line, location: "\(name):\(index + 1)")))
        }
        guard !out.isEmpty else { throw ActivationListError(location: name, entry: nil, message: "no activation lists (every line is blank or a # comment)") }
        return out
    }
}
