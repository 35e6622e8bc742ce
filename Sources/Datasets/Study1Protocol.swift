/// Study 1's data protocol (PAPERS.md), with the validation part the original code lacked.
///
/// Per replicate: a stratified split of every row into train (70%) and test (30%) from the replicate's seed;
/// then a stratified validation part (20% of train) for the search objective. Standardisation is fitted on
/// the part the networks train on (train minus validation) and applied to all three, so neither the search
/// objective nor the test score has seen its own rows' statistics.
public struct Study1Protocol: Sendable {
    public var testFraction: Double
    public var validationFraction: Double

    public init(testFraction: Double = 0.3, validationFraction: Double = 0.2) {
        self.testFraction = testFraction
        self.validationFraction = validationFraction
    }

    public struct Replicate: Sendable {
        public var train: LabeledData
        public var validation: LabeledData
        public var test: LabeledData
        public var standardization: Standardization
    }

    /// `data` is every row of a dataset (use `Dataset.allRows` for sets with an official split).
    public func replicate(_ data: LabeledData, seed: UInt64) throws -> Replicate {
        guard testFraction > 0 && testFraction < 1, validationFraction >= 0 && validationFraction < 1 else {
            throw DatasetError.invalidArgument(
                "study-1 fractions must be in (0, 1): test \(testFraction), validation \(validationFraction) (validation may be 0)")
        }
        let (trainAll, test) = data.stratifiedSplit(heldOutFraction: testFraction, seed: seed)
        let (train, validation) = trainAll.stratifiedSplit(
            heldOutFraction: validationFraction, seed: SplitMix64.derived(from: seed, stream: 1).state)
        guard train.rowCount > 0, test.rowCount > 0 else {
            throw DatasetError.invalidArgument("study 1 needs more rows: \(data.rowCount) rows leave \(train.rowCount) to train and \(test.rowCount) to test")
        }
        let standardization = Standardization.fit(train)
        return Replicate(train: standardization.apply(train), validation: standardization.apply(validation),
                         test: standardization.apply(test), standardization: standardization)
    }
}
