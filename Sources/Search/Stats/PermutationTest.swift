/// The median of a sample (mean of the two middle values for an even count). `nil` for an empty sample.
public func median(_ values: [Double]) -> Double? {
    guard !values.isEmpty else { return nil }
    let sorted = values.sorted()
    let mid = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/// Two-sample permutation test of "same distribution" with statistic |median(a) − median(b)|, as study 1
/// uses (10,000 rounds).
///
/// The p-value counts relabellings whose statistic is at least the observed one. Statistics are compared
/// with a small tolerance: medians of accuracies are averages of ratios, and a relabelling that gives the
/// same difference must count as "as extreme" even when float rounding makes it 1 ulp smaller.
/// When every relabelling can be enumerated within the round budget the test is exact
/// (p = count / C(n, m)); otherwise it is approximate with rounds drawn at random and p = (count + 1) /
/// (rounds + 1), which never gives p = 0 and is a valid p-value for a Monte-Carlo test.
public struct PermutationTest: Sendable {
    public var rounds: Int
    public var seed: UInt64

    public init(rounds: Int = 10_000, seed: UInt64 = 0) {
        self.rounds = rounds
        self.seed = seed
    }

    public struct Result: Sendable, Equatable, Codable {
        public var statistic: Double
        public var pValue: Double
        public var exact: Bool
        /// Relabellings evaluated (all of them when exact).
        public var relabellings: Int

        /// `**` for p < 0.001, `*` for p < 0.05, empty otherwise.
        public var mark: String { significanceMark(pValue) }
    }

    public static func statistic(_ a: [Double], _ b: [Double]) -> Double {
        abs(median(a)! - median(b)!)
    }

    /// Exact when C(|a|+|b|, |a|) ≤ `rounds`, approximate otherwise. Both samples must be non-empty.
    public func test(_ a: [Double], _ b: [Double]) -> Result {
        precondition(!a.isEmpty && !b.isEmpty, "a permutation test needs two non-empty samples")
        if let count = Self.binomial(a.count + b.count, a.count), count <= rounds {
            return exact(a, b)
        }
        return approximate(a, b)
    }

    /// Every way of choosing which |a| of the pooled values are labelled `a`.
    public func exact(_ a: [Double], _ b: [Double]) -> Result {
        let pooled = a + b
        let observed = Self.statistic(a, b)
        let n = pooled.count, m = a.count
        var chosen = Array(0..<m)
        var extreme = 0, total = 0
        var first = [Double](repeating: 0, count: m), second = [Double](repeating: 0, count: n - m)
        while true {
            var inFirst = [Bool](repeating: false, count: n)
            for i in chosen { inFirst[i] = true }
            var f = 0, s = 0
            for i in 0..<n {
                if inFirst[i] { first[f] = pooled[i]; f += 1 } else { second[s] = pooled[i]; s += 1 }
            }
            if Self.atLeast(Self.statistic(first, second), observed) { extreme += 1 }
            total += 1
            // Next m-combination of 0..<n in lexicographic order.
            var i = m - 1
            while i >= 0 && chosen[i] == n - m + i { i -= 1 }
            if i < 0 { break }
            chosen[i] += 1
            for j in (i + 1)..<m { chosen[j] = chosen[j - 1] + 1 }
        }
        return Result(statistic: observed, pValue: Double(extreme) / Double(total), exact: true, relabellings: total)
    }

    /// `rounds` random relabellings (Fisher–Yates shuffles of the pooled sample).
    public func approximate(_ a: [Double], _ b: [Double]) -> Result {
        var pooled = a + b
        let observed = Self.statistic(a, b)
        var generator = SeededGenerator(seed: seed)
        var extreme = 0
        for _ in 0..<rounds {
            pooled.shuffle(using: &generator)
            if Self.atLeast(Self.statistic(Array(pooled[..<a.count]), Array(pooled[a.count...])), observed) {
                extreme += 1
            }
        }
        return Result(statistic: observed, pValue: Double(extreme + 1) / Double(rounds + 1), exact: false,
                      relabellings: rounds)
    }

    static func atLeast(_ value: Double, _ observed: Double) -> Bool {
        value >= observed - 1e-12 * max(1, abs(observed))
    }

    /// C(n, k), or nil when it exceeds Int.
    static func binomial(_ n: Int, _ k: Int) -> Int? {
        let k = min(k, n - k)
        guard k >= 0 else { return 0 }
        var result = 1
        for i in 0..<k {
            let (product, overflow) = result.multipliedReportingOverflow(by: n - i)
            if overflow { return nil }
            result = product / (i + 1)
        }
        return result
    }
}

/// `**` for p < 0.001, `*` for p < 0.05, empty otherwise.
public func significanceMark(_ p: Double) -> String {
    p < 0.001 ? "**" : (p < 0.05 ? "*" : "")
}
