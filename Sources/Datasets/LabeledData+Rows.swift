import Foundation

extension LabeledData {
    /// The rows at `indices`, in that order (repeats allowed).
    public func rows(_ indices: [Int]) -> LabeledData {
        var features = [Float]()
        features.reserveCapacity(indices.count * featureCount)
        var labels = [Int32]()
        labels.reserveCapacity(indices.count)
        self.features.withUnsafeBufferPointer { source in
            for i in indices {
                precondition(i >= 0 && i < rowCount, "row \(i) outside 0..<\(rowCount)")
                features.append(contentsOf: source[(i * featureCount)..<((i + 1) * featureCount)])
                labels.append(self.labels[i])
            }
        }
        return LabeledData(features: features, labels: labels, featureCount: featureCount, classCount: classCount,
                           imageShape: imageShape)
    }

    /// These rows followed by `other`'s (same features and classes).
    public func appending(_ other: LabeledData) -> LabeledData {
        precondition(other.featureCount == featureCount && other.classCount == classCount,
                     "appending rows of a different shape")
        return LabeledData(features: features + other.features, labels: labels + other.labels,
                           featureCount: featureCount, classCount: classCount, imageShape: imageShape)
    }

    /// The same rows without the image shape: what the MLP consumes (features are already row-major flat).
    public var flattened: LabeledData {
        var copy = self
        copy.imageShape = nil
        return copy
    }

    /// Rows per class, indexed by class.
    public var classCounts: [Int] {
        var counts = [Int](repeating: 0, count: classCount)
        for label in labels { counts[Int(label)] += 1 }
        return counts
    }

    /// Row indices grouped by class, each group in ascending order.
    public var rowsByClass: [[Int]] {
        var groups = [[Int]](repeating: [], count: classCount)
        for (i, label) in labels.enumerated() { groups[Int(label)].append(i) }
        return groups
    }
}
