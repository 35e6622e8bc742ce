/// One split of a classification dataset as the trainers consume it: a dense row-major feature matrix
/// and integer class labels. Loaders, registries and protocols (Datasets) produce it; the population
/// trainers (GPUEngine) upload it once and share it across every candidate.
public struct LabeledData: Sendable, Equatable {
    /// Row-major, `rowCount × featureCount`.
    public var features: [Float]
    /// One class index in `0..<classCount` per row.
    public var labels: [Int32]
    public var featureCount: Int
    public var classCount: Int
    /// Image datasets keep their shape (channels, height, width) for the CNN; `nil` for tabular data.
    /// `featureCount == shape.reduce(1, *)` whenever it is set.
    public var imageShape: [Int]?

    public var rowCount: Int { labels.count }

    public init(features: [Float], labels: [Int32], featureCount: Int, classCount: Int, imageShape: [Int]? = nil) {
        precondition(features.count == labels.count * featureCount, "features must be rows × featureCount")
        self.features = features
        self.labels = labels
        self.featureCount = featureCount
        self.classCount = classCount
        self.imageShape = imageShape
    }
}
