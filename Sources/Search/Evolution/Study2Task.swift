import Datasets
import Foundation

/// Study 2's training recipe and data sizes for one evolution: fitness is the best validation accuracy over
/// `epochs` epochs of Adam at `learningRate` with batches of `batchFraction` of the training rows; the
/// chosen functions are then retrained on Train1 ∪ Train2 for `finalEpochs` and scored on the test set at
/// the LAST epoch (never an epoch picked by the test set).
///
/// Row caps make a run fit a laptop: Train1/Train2 are carved from the official training set with the
/// data seed (as study 2 does), only smaller; nil caps give study 2's sizes (Train1/Train2 = 80/20 % of the
/// official training set, the whole official test set).
public struct Study2Recipe: Codable, Sendable, Hashable {
    public var dataset: String
    public var network: Study2FCN
    public var epochs: Int
    public var learningRate: Double
    public var batchFraction: Double
    public var finalEpochs: Int
    public var train1Rows: Int?
    public var train2Rows: Int?
    public var testRows: Int?
    public var dataSeed: UInt64

    public init(dataset: String, network: Study2FCN = .paper, epochs: Int = 3, learningRate: Double = 0.01,
                batchFraction: Double = 0.1, finalEpochs: Int = 30, train1Rows: Int? = nil, train2Rows: Int? = nil,
                testRows: Int? = nil, dataSeed: UInt64 = 0) {
        self.dataset = dataset
        self.network = network
        self.epochs = epochs
        self.learningRate = learningRate
        self.batchFraction = batchFraction
        self.finalEpochs = finalEpochs
        self.train1Rows = train1Rows
        self.train2Rows = train2Rows
        self.testRows = testRows
        self.dataSeed = dataSeed
    }

    public func validate() throws {
        guard epochs >= 1, finalEpochs >= 1 else { throw EvolutionError.invalidSetting("--epochs and --final-epochs must be at least 1") }
        guard learningRate > 0, learningRate.isFinite else { throw EvolutionError.invalidSetting("--lr must be positive, got \(learningRate)") }
        guard batchFraction > 0, batchFraction <= 1 else {
            throw EvolutionError.invalidSetting("--batch-fraction must lie in (0, 1], got \(batchFraction)")
        }
        for (name, rows) in [("--train-rows", train1Rows), ("--validation-rows", train2Rows), ("--test-rows", testRows)] {
            if let rows, rows < 10 { throw EvolutionError.invalidSetting("\(name) must be at least 10, got \(rows)") }
        }
    }

    /// The data a run sees: the search trains on Train1 and scores on Train2; the final retraining uses
    /// Train1 ∪ Train2 and the test set.
    public struct Data: Sendable {
        public var search: SearchSplits
        public var final: SearchSplits
        public var classCount: Int
        public var featureCount: Int
    }

    public func load(dataRoot: URL = DatasetRegistry.defaultDataRoot) throws -> Data {
        let dataset = try DatasetRegistry.load(self.dataset, dataRoot: dataRoot)
        let officialRows = dataset.officialTest != nil ? dataset.data.rowCount
            : Int(Double(dataset.data.rowCount) * (1 - Study2Protocol().testFraction))
        var train2Fraction = 0.2, train1Fraction = 0.8
        if let rows = train2Rows { train2Fraction = Swift.min(0.5, Double(rows) / Double(officialRows)) }
        if let rows = train1Rows { train1Fraction = Swift.min(1 - train2Fraction, Double(rows) / Double(officialRows)) }
        else { train1Fraction = 1 - train2Fraction }
        let split = try Study2Protocol(train1Fraction: train1Fraction, train2Fraction: train2Fraction, seed: dataSeed).split(dataset)
        var test = split.test.flattened
        if let rows = testRows, rows < test.rowCount {
            test = test.stratifiedSplit(heldOutFraction: Double(rows) / Double(test.rowCount), seed: dataSeed &+ 17).heldOut
        }
        let train1 = split.train1.flattened, train2 = split.train2.flattened
        return Data(search: SearchSplits(train: train1, validation: train2, test: test),
                    final: SearchSplits(train: train1.appending(train2), validation: train2, test: test),
                    classCount: train1.classCount, featureCount: train1.featureCount)
    }

    /// The search's training setup (fitness = best validation accuracy over the epochs).
    public func searchSetup(trainRows: Int, seed: UInt64) -> TrainingSetup {
        TrainingSetup(hiddenWidths: network.hiddenWidths, slotCount: 3, epochs: epochs, learningRate: learningRate,
                      batchSize: Swift.max(1, Int((Double(trainRows) * batchFraction).rounded())),
                      earlyStopPatience: nil, seed: seed, objective: .validation, selection: .best)
    }

    /// The final retraining's setup: scored at the last epoch.
    public func finalSetup(trainRows: Int, seed: UInt64) -> TrainingSetup {
        TrainingSetup(hiddenWidths: network.hiddenWidths, slotCount: 3, epochs: finalEpochs, learningRate: learningRate,
                      batchSize: Swift.max(1, Int((Double(trainRows) * batchFraction).rounded())),
                      earlyStopPatience: nil, seed: seed, objective: .validation, selection: .final)
    }
}
