import Kernels

/// One entry of a menu as the search sees it: a name (what the study stores and prints) and the expression
/// the trainer runs.
public struct MenuChoice: Sendable, Hashable, Codable {
    public var name: String
    public var expression: ActivationExpr

    public init(name: String, expression: ActivationExpr) {
        self.name = name
        self.expression = expression
    }

    enum CodingKeys: String, CodingKey { case name, expression }

    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        // Expressions are re-read from the menu by name; the stored text is for people.
        expression = .x
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(ExpressionText.render(expression), forKey: .expression)
    }
}

/// Study 1's search space: an L-layer network, one categorical parameter per layer (the last layer
/// included), each choosing an entry of the same menu. A point is a list of menu indices, one per layer.
public struct AlaCarteSpace: Sendable, Equatable {
    public let menu: [MenuChoice]
    public let layers: Int

    public init(menu: [MenuChoice], layers: Int) throws {
        guard layers >= 1 else { throw AlaCarteError.invalidSpace("--layers must be at least 1, got \(layers)") }
        guard !menu.isEmpty else { throw AlaCarteError.invalidSpace("the menu has no entries") }
        var seen = Set<String>()
        for choice in menu where !seen.insert(choice.name).inserted {
            throw AlaCarteError.invalidSpace("menu entry '\(choice.name)' appears twice")
        }
        self.menu = menu
        self.layers = layers
    }

    public var choiceCount: Int { menu.count }

    /// Number of distinct points (saturating).
    public var size: Double { Double(menu.count).pow(layers) }

    public static func parameterName(layer: Int) -> String { "layer\(layer)" }

    public func candidate(_ point: [Int]) -> SlotActivations { point.map { menu[$0].expression } }

    public func parameters(_ point: [Int]) -> [String: String] {
        Dictionary(uniqueKeysWithValues: point.enumerated().map { (Self.parameterName(layer: $0.offset), menu[$0.element].name) })
    }

    public func names(_ point: [Int]) -> [String] { point.map { menu[$0].name } }

    /// The point a stored trial's parameters describe, or nil when they do not fit this space
    /// (another menu or depth).
    public func point(parameters: [String: String]) -> [Int]? {
        var indexOfName: [String: Int] = [:]
        for (index, choice) in menu.enumerated() { indexOfName[choice.name] = index }
        var point: [Int] = []
        for layer in 0..<layers {
            guard let name = parameters[Self.parameterName(layer: layer)], let index = indexOfName[name] else { return nil }
            point.append(index)
        }
        return point
    }
}

private extension Double {
    func pow(_ n: Int) -> Double { (0..<n).reduce(1.0) { acc, _ in acc * self } }
}

public enum AlaCarteError: Error, CustomStringConvertible {
    case invalidSpace(String)
    case invalidSettings(String)
    case storeMismatch(String)

    public var description: String {
        switch self {
        case let .invalidSpace(s): return "invalid search space: \(s)"
        case let .invalidSettings(s): return "invalid settings: \(s)"
        case let .storeMismatch(s): return s
        }
    }
}
