/// Stratified splitting and subsampling: each class keeps (as nearly as integers allow) its share of rows on
/// both sides.
public enum StratifiedSplit {
    /// Row indices of `labels` split into (kept, heldOut) with `heldOutFraction` of the rows held out.
    ///
    /// The held-out count is `round(n · fraction)` in total and is shared out among the classes by largest
    /// remainder, so the totals are exact and each class's share differs from its ideal by less than one row.
    /// Within a class the rows are drawn after a seeded shuffle; each side is returned in shuffled order (so a
    /// trainer's mini-batches are not class-sorted).
    public static func split(labels: [Int32], classCount: Int, heldOutFraction: Double, seed: UInt64)
        -> (kept: [Int], heldOut: [Int]) {
        precondition(heldOutFraction >= 0 && heldOutFraction <= 1, "fraction must be in [0, 1]")
        let quotas = allocate(total: Int((Double(labels.count) * heldOutFraction).rounded()), labels: labels,
                              classCount: classCount)
        var generator = SplitMix64(seed: seed)
        var groups = [[Int]](repeating: [], count: classCount)
        for (i, label) in labels.enumerated() { groups[Int(label)].append(i) }
        var kept: [Int] = []
        var heldOut: [Int] = []
        for (c, var group) in groups.enumerated() {
            group.seededShuffle(using: &generator)
            heldOut += group[..<quotas[c]]
            kept += group[quotas[c]...]
        }
        kept.seededShuffle(using: &generator)
        heldOut.seededShuffle(using: &generator)
        return (kept, heldOut)
    }

    /// `count` rows drawn so that the class proportions of `labels` are kept (largest remainder), in shuffled order.
    public static func sample(labels: [Int32], classCount: Int, count: Int, seed: UInt64) -> [Int] {
        precondition(count >= 0 && count <= labels.count, "cannot take \(count) of \(labels.count) rows")
        let fraction = labels.isEmpty ? 0 : Double(count) / Double(labels.count)
        var heldOut = split(labels: labels, classCount: classCount, heldOutFraction: fraction, seed: seed).heldOut
        // round(n · count/n) == count except for floating-point edge cases; fix the length exactly.
        if heldOut.count > count { heldOut.removeLast(heldOut.count - count) }
        return heldOut
    }

    /// Shares `total` among classes in proportion to their sizes by largest remainder (ties to the
    /// smaller class index), never giving a class more rows than it has.
    static func allocate(total: Int, labels: [Int32], classCount: Int) -> [Int] {
        var counts = [Int](repeating: 0, count: classCount)
        for label in labels { counts[Int(label)] += 1 }
        let n = labels.count
        guard n > 0, total > 0 else { return [Int](repeating: 0, count: classCount) }
        var quotas = counts.map { $0 * total / n }
        let remainders = counts.enumerated().map { ($0, Double($1 * total) / Double(n) - Double($1 * total / n)) }
        var left = total - quotas.reduce(0, +)
        for (c, _) in remainders.sorted(by: { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }) where left > 0 && quotas[c] < counts[c] {
            quotas[c] += 1
            left -= 1
        }
        return quotas
    }
}

extension LabeledData {
    /// A stratified split of these rows: (kept, heldOut).
    public func stratifiedSplit(heldOutFraction: Double, seed: UInt64) -> (kept: LabeledData, heldOut: LabeledData) {
        let (kept, heldOut) = StratifiedSplit.split(labels: labels, classCount: classCount,
                                                    heldOutFraction: heldOutFraction, seed: seed)
        return (rows(kept), rows(heldOut))
    }

    /// `count` rows, stratified, for running searches small. All rows (shuffled) when `count ≥ rowCount`.
    public func stratifiedSample(_ count: Int, seed: UInt64) -> LabeledData {
        rows(StratifiedSplit.sample(labels: labels, classCount: classCount, count: Swift.min(count, rowCount), seed: seed))
    }
}
