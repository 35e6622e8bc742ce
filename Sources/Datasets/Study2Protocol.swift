/// Study 2's data protocol (PAPERS.md): Train1 (search training) and Train2 (search validation) carved from
/// the official training set with a fixed seed; the official test set is the test set. Sets without an
/// official split get a stratified one first (`testFraction`), from the same seed.
///
/// Normalisation: the published mean/std for the MNIST family (pixels in [0, 1]); for other image sets one
/// mean/std over all Train1 pixels; for tabular sets per-feature statistics of Train1.
public struct Study2Protocol: Sendable {
    /// Fraction of the official training set in Train1.
    public var train1Fraction: Double
    /// Fraction of the official training set in Train2; `train1Fraction + train2Fraction ≤ 1` (the rest unused,
    /// which is how a search runs on a small part).
    public var train2Fraction: Double
    public var testFraction: Double
    public var seed: UInt64

    public init(train1Fraction: Double = 0.8, train2Fraction: Double = 0.2, testFraction: Double = 1.0 / 7.0, seed: UInt64 = 0) {
        self.train1Fraction = train1Fraction
        self.train2Fraction = train2Fraction
        self.testFraction = testFraction
        self.seed = seed
    }

    /// Published normalisation constants (pixels scaled to [0, 1]).
    public static let knownNormalization: [String: (mean: Float, std: Float)] = [
        "mnist": (0.1306, 0.3081), "mnist-5k": (0.1306, 0.3081),
        "fashion-mnist": (0.2864, 0.3533), "kmnist": (0.1918, 0.3484), "usps": (0.2487, 0.2998),
    ]

    public struct Split: Sendable {
        public var train1: LabeledData
        public var train2: LabeledData
        public var test: LabeledData
        public var normalization: Standardization
    }

    public func split(_ dataset: Dataset) throws -> Split {
        guard train1Fraction > 0, train2Fraction > 0, train1Fraction + train2Fraction <= 1 + 1e-9 else {
            throw DatasetError.invalidArgument(
                "study-2 fractions: train1 \(train1Fraction) and train2 \(train2Fraction) must be > 0 and sum to at most 1")
        }
        let official: LabeledData
        let test: LabeledData
        if let officialTest = dataset.officialTest {
            official = dataset.data
            test = officialTest
        } else {
            guard testFraction > 0 && testFraction < 1 else {
                throw DatasetError.invalidArgument("study-2 test fraction must be in (0, 1), got \(testFraction)")
            }
            (official, test) = dataset.data.stratifiedSplit(heldOutFraction: testFraction,
                                                            seed: SplitMix64.derived(from: seed, stream: 2).state)
        }
        // Train2 first (its size is what the fraction promises), then Train1 out of the rest.
        let (rest, train2) = official.stratifiedSplit(heldOutFraction: train2Fraction, seed: seed)
        let train1Share = min(1, train1Fraction / (1 - train2Fraction))
        let train1 = train1Share >= 1 ? rest : rest.stratifiedSplit(
            heldOutFraction: train1Share, seed: SplitMix64.derived(from: seed, stream: 3).state).heldOut
        guard train1.rowCount > 0, train2.rowCount > 0 else {
            throw DatasetError.invalidArgument("\(dataset.name): \(official.rowCount) training rows leave Train1 \(train1.rowCount), Train2 \(train2.rowCount)")
        }
        let normalization: Standardization
        if let known = Self.knownNormalization[dataset.name], dataset.imageShape != nil {
            normalization = Standardization(mean: [known.mean], std: [known.std])
        } else if dataset.imageShape != nil {
            normalization = .fitScalar(train1)
        } else {
            normalization = .fit(train1)
        }
        return Split(train1: normalization.apply(train1), train2: normalization.apply(train2),
                     test: normalization.apply(test), normalization: normalization)
    }
}
