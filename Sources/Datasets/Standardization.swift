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

    /// Per-feature mean and population standard deviation of `data`, by two passes in Double: the mean
    /// first, then the mean squared deviation from it. (The one-pass Σx² − n·mean² cancels catastrophically
    /// for a feature with a large offset, e.g. values near 10⁶ that differ by units.) A constant feature gets
    /// std 1, so it maps to 0 instead of dividing by zero.
    public static func fit(_ data: LabeledData) -> Standardization {
        let f = data.featureCount
        let n = data.rowCount
        var sum = [Double](repeating: 0, count: f)
        var squares = [Double](repeating: 0, count: f)
        data.features.withUnsafeBufferPointer { x in
            for row in stride(from: 0, to: n * f, by: Swift.max(f, 1)) {
                for j in 0..<f { sum[j] += Double(x[row + j]) }
            }
            for j in 0..<f { sum[j] /= Double(Swift.max(n, 1)) }
            for row in stride(from: 0, to: n * f, by: Swift.max(f, 1)) {
                for j in 0..<f {
                    let d = Double(x[row + j]) - sum[j]
                    squares[j] += d * d
                }
            }
        }
        let std = squares.map { Self.safeStd(($0 / Double(Swift.max(n, 1))).squareRoot()) }
        return Standardization(mean: sum.map { Float($0) }, std: std)
    }

    /// One mean and std over every value of `data` (all pixels of all images), for image sets whose
    /// per-pixel statistics would blow up the always-black border pixels. Same two passes as `fit`.
    public static func fitScalar(_ data: LabeledData) -> Standardization {
        let count = Double(Swift.max(data.features.count, 1))
        let mean = data.features.reduce(0.0) { $0 + Double($1) } / count
        let squares = data.features.reduce(0.0) { let d = Double($1) - mean; return $0 + d * d }
        return Standardization(mean: [Float(mean)], std: [safeStd((squares / count).squareRoot())])
    }

    private static func safeStd(_ s: Double) -> Float { s > 1e-12 ? Float(s) : 1 }

    public func apply(_ data: LabeledData) -> LabeledData {
        var out = data
        let f = data.featureCount
        precondition(mean.count == 1 || mean.count == f, "standardisation fitted on \(mean.count) features, data has \(f)")
        out.features.withUnsafeMutableBufferPointer { values in
            if mean.count == 1 {
                let (m, s) = (mean[0], std[0])
                for i in values.indices { values[i] = (values[i] - m) / s }
            } else if f > 0 {
                for row in stride(from: 0, to: values.count, by: f) {
                    for j in 0..<f { values[row + j] = (values[row + j] - mean[j]) / std[j] }
                }
            }
        }
        return out
    }
}
