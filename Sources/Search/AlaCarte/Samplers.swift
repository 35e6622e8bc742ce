/// A finished trial as a sampler sees it.
public struct Observation: Sendable, Equatable {
    /// Trial number: orders observations in time (TPE weighs recent ones more).
    public var number: Int
    public var point: [Int]
    /// Larger is better.
    public var objective: Double

    public init(number: Int, point: [Int], objective: Double) {
        self.number = number
        self.point = point
        self.objective = objective
    }
}

/// Proposes points of an `AlaCarteSpace`, a batch at a time (the trainer scores a whole population at once).
public protocol AlaCarteSampler: Sendable {
    var name: String { get }
    /// Up to `count` distinct points, none in `excluded` (points already proposed or scored). Fewer only
    /// when the space has no more unexcluded points that the sampler can find. `running`: points proposed
    /// earlier and still training (a streaming study), in proposal order; they are in `excluded` too.
    func propose(count: Int, observations: [Observation], running: [[Int]], excluded: Set<[Int]>,
                 space: AlaCarteSpace, generator: inout SeededGenerator) -> [[Int]]
}

extension AlaCarteSampler {
    /// Proposes with nothing running (a study that proposes a batch at a time).
    public func propose(count: Int, observations: [Observation], excluded: Set<[Int]>, space: AlaCarteSpace,
                        generator: inout SeededGenerator) -> [[Int]] {
        propose(count: count, observations: observations, running: [], excluded: excluded, space: space, generator: &generator)
    }
}

public enum SamplerKind: String, Codable, Sendable, CaseIterable {
    case random, tpe

    public func make() -> any AlaCarteSampler {
        switch self {
        case .random: return RandomSampler()
        case .tpe: return TPESampler()
        }
    }
}

/// Every layer's entry drawn uniformly and independently (study 1's random arm, and Optuna's CMA-ES arm,
/// which falls back to this for categorical parameters).
public struct RandomSampler: AlaCarteSampler {
    public let name = "random"
    public init() {}

    public func propose(count: Int, observations: [Observation], running: [[Int]], excluded: Set<[Int]>,
                        space: AlaCarteSpace, generator: inout SeededGenerator) -> [[Int]] {
        var taken = excluded
        var points: [[Int]] = []
        for _ in 0..<count {
            guard let point = Self.drawUnseen(space: space, taken: taken, generator: &generator) else { break }
            taken.insert(point)
            points.append(point)
        }
        return points
    }

    /// A uniform point not in `taken`: rejection sampling, then (for a nearly exhausted small space) a
    /// uniform pick among the points left. `nil` when every point is taken.
    static func drawUnseen(space: AlaCarteSpace, taken: Set<[Int]>, generator: inout SeededGenerator) -> [Int]? {
        for _ in 0..<64 {
            let point = (0..<space.layers).map { _ in Int.random(in: 0..<space.choiceCount, using: &generator) }
            if !taken.contains(point) { return point }
        }
        guard space.size <= 1_000_000 else { return nil }
        var left: [[Int]] = []
        var point = [Int](repeating: 0, count: space.layers)
        while true {
            if !taken.contains(point) { left.append(point) }
            var layer = space.layers - 1
            while layer >= 0 {
                point[layer] += 1
                if point[layer] < space.choiceCount { break }
                point[layer] = 0
                layer -= 1
            }
            if layer < 0 { break }
        }
        return left.randomElement(using: &generator)
    }
}
