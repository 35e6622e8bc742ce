import Foundation

/// An expression's values on a fixed grid, rounded, as a compact hashable digest. Two expressions with
/// equal fingerprints count as the same function (the searches skip retraining such duplicates).
///
/// Grid: 1,201 evenly spaced points on [−10, 10] (step 1/60, so 0, ±0.5, ±1, ±3, ±6 and the other kinks of
/// the menus are on it) plus ±15, ±20, ±30, ±50, ±100, ±1e3, ±1e6. Values are the Swift reference in Double
/// with the parameters' initial values. Rounding: each value keeps 6 significant digits and anything
/// below 1e-9 in magnitude counts as 0, so the last-bit differences between equal functions written
/// differently (x·2 vs x + x, exp(log x)) do not split them; NaN and ±inf are their own symbols.
/// Layer-wise functions fingerprint as their name.
public struct Fingerprint: Hashable, Sendable, CustomStringConvertible {
    /// FNV-1a over the rounded values.
    public let digest: UInt64
    public var description: String { hex64(digest) }

    public static let grid: [Double] = {
        var xs = (0...1200).map { -10 + Double($0) / 60 }
        for m in [15.0, 20, 30, 50, 100, 1e3, 1e6] { xs += [m, -m] }
        return xs
    }()

    public init(_ expr: ActivationExpr) {
        if case .layerwise(let op) = expr {
            digest = fnv1a64("layerwise:" + op.rawValue)
            return
        }
        var text = ""
        text.reserveCapacity(Self.grid.count * 14)
        for x in Self.grid {
            text += Self.rounded(expr.evaluate(x, bindings: nil))
            text += ";"
        }
        digest = fnv1a64(text)
    }

    /// The rounded symbol of one value.
    static func rounded(_ v: Double) -> String {
        if v.isNaN { return "nan" }
        if v.isInfinite { return v > 0 ? "inf" : "-inf" }
        if abs(v) < 1e-9 { return "0" }
        return String(format: "%.5e", v)
    }
}

extension ActivationExpr {
    public var fingerprint: Fingerprint { Fingerprint(self) }
}
