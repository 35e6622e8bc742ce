/// An affine map x ↦ (x − mean) / std per feature (or one pair for a whole image), fitted on training rows
/// only and then applied unchanged to validation and test rows, so nothing about them leaks into training.
public struct Standardization: Sendable, Equatable {
    /// One entry per feature, or a single entry applied to every feature (image sets).
    public var mean: [Float]
    public var std: [Float]

    public init(mean: [Float], std: [Float]) {
        precondition(mean.count == std.count, "mean and std must have the same length")
        self.mean = mean
        self.std = std
    }

    /// Per-feature mean and population standard deviation of `data`, accumulated in Double with Welford's
    /// update (one pass, no catastrophic cancellation of Σx² − n·mean² for features with a large offset).
    /// A constant feature gets std 1, so it maps to 0 instead of dividing by zero.
    public static func fit(_ data: LabeledData) -> Standardization {
        let f = data.featureCount
        var mean = [Double](repeating: 0, count: f)
        var m2 = [Double](repeating: 0, count: f)
        for r in 0..<data.rowCount {
            let n = Double(r + 1)
            for j in 0..<f {
                let x = Double(data.features[r * f + j])
                let delta = x - mean[j]
                mean[j] += delta / n
                m2[j] += delta * (x - mean[j])
            }
        }
        let rows = Double(Swift.max(data.rowCount, 1))
        let std = m2.map { m -> Float in
            let s = (m / rows).squareRoot()
            return s > 1e-12 ? Float(s) : 1
        }
        return Standardization(mean: mean.map { Float($0) }, std: std)
    }

    /// One mean and std over every value of `data` (all pixels of all images), for image sets whose
    /// per-pixel statistics would blow up the always-black border pixels.
    public static func fitScalar(_ data: LabeledData) -> Standardization {
        var mean = 0.0
        var m2 = 0.0
        for (i, value) in data.features.enumerated() {
            let x = Double(value)
            let delta = x - mean
            mean += delta / Double(i + 1)
            m2 += delta * (x - mean)
        }
        let s = (m2 / Double(Swift.max(data.features.count, 1))).squareRoot()
        return Standardization(mean: [Float(mean)], std: [s > 1e-12 ? Float(s) : 1])
    }

    public func apply(_ data: LabeledData) -> LabeledData {
        var out = data
        let f = data.featureCount
        precondition(mean.count == 1 || mean.count == f, "standardisation fitted on \(mean.count) features, data has \(f)")
        if mean.count == 1 {
            let (m, s) = (mean[0], std[0])
            for i in out.features.indices { out.features[i] = (out.features[i] - m) / s }
        } else {
            for i in out.features.indices {
                let j = i % f
                out.features[i] = (out.features[i] - mean[j]) / std[j]
            }
        }
        return out
    }
}
