import Datasets
import Foundation
import GPUEngine

/// Study 2's training recipe and data sizes for one evolution: fitness is the best validation accuracy over
/// `epochs` epochs of Adam at `learningRate` with batches of `batchFraction` of the training rows; the
/// chosen functions are then retrained on Train1 ∪ Train2 for `finalEpochs` and scored on the test set at
/// the LAST epoch (never an epoch picked by the test set).
///
/// Row caps make a run fit a laptop: Train1/Train2 are carved from the official training set with the
/// data seed (as study 2 does), only smaller; nil caps give study 2's sizes (Train1/Train2 = 80/20 % of the
/// official training set, the whole official test set).
///
/// The network is the FCN (`network`) unless `architecture` names a CNN: `cnn` (study 2's) or a spec string
/// with convolutions and exactly three activation slots, which become the input, hidden and output stages in
/// slot order (study 2's CNN: conv1's AF1 = input, conv2's AF2 = hidden, fc1000's AF3 = output). A CNN
/// trains on the images themselves; the FCN on their flattened pixels.
public struct Study2Recipe: Codable, Sendable, Hashable {
    public var dataset: String
    public var network: Study2FCN
    /// nil: the FCN `network`. Otherwise `cnn` or a CNN spec string (see `NetworkArchitecture`).
    public var architecture: String?
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
                testRows: Int? = nil, dataSeed: UInt64 = 0, architecture: String? = nil) {
        self.dataset = dataset
        self.architecture = architecture
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
        _ = try cnnArchitecture()
    }

    /// Study 2's three stages, as the slots of a CNN spec: exactly three, numbered in layer order unless
    /// the spec names them with `@0`/`@1`/`@2`.
    public static let stageCount = 3

    /// The CNN to train, or nil for the FCN. Errors name the spec and what evolution needs of it.
    public func cnnArchitecture() throws -> NetworkArchitecture? {
        guard let architecture else { return nil }
        let parsed: NetworkArchitecture
        do { parsed = try NetworkArchitecture.named(architecture) } catch {
            throw EvolutionError.invalidSetting("--arch '\(architecture)': \(error)")
        }
        guard parsed.hasConvolutions else {
            throw EvolutionError.invalidSetting("--arch '\(architecture)' has no convolution; evolve a fully connected network with --arch fcn")
        }
        guard parsed.slotCount == Self.stageCount else {
            throw EvolutionError.invalidSetting(
                "--arch '\(architecture)' has \(parsed.slotCount) activation slot(s); evolution needs exactly 3 (input, hidden and "
                + "output stage), e.g. conv3x3:8,pool2,conv3x3:8,flatten,fc:16,fc:10 or slots named with @0/@1/@2")
        }
        return parsed
    }

    /// The data a run sees: the search trains on Train1 and scores on Train2; the final retraining uses
    /// Train1 ∪ Train2 and the test set.
    public struct Data: Sendable {
        public var search: SearchSplits
        public var final: SearchSplits
        public var classCount: Int
        public var featureCount: Int
        /// [channels, height, width] when the splits keep their images (a CNN recipe); nil when flattened.
        public var imageShape: [Int]?
    }

    public func load(dataRoot: URL = DatasetRegistry.defaultDataRoot, options: LoadOptions = LoadOptions()) throws -> Data {
        let dataset = try DatasetRegistry.load(self.dataset, dataRoot: dataRoot, options: options)
        guard dataset.featureCount >= 1, dataset.classCount >= 2 else {
            throw EvolutionError.invalidSetting(
                "dataset '\(dataset.name)' has \(dataset.featureCount) feature column(s) and \(dataset.classCount) class(es); "
                + "expected at least one feature column and two classes")
        }
        let cnn = try cnnArchitecture()
        if let cnn { try Self.check(cnn, spec: architecture!, fits: dataset) }
        let officialRows = dataset.officialTest != nil ? dataset.data.rowCount
            : Int(Double(dataset.data.rowCount) * (1 - Study2Protocol().testFraction))
        // Study 2's split is 80/20. Row caps that fit the data are taken as they are; caps that together ask
        // for more rows than there are shrink in proportion, so they keep their ratio (the default 4,000/1,000
        // on sklearn/digits gives 80/20, not 50/50).
        var train2Fraction = 0.2, train1Fraction = 0.8
        let official = Double(officialRows)
        if let rows1 = train1Rows, let rows2 = train2Rows, Double(rows1 + rows2) > official {
            train1Fraction = Double(rows1) / Double(rows1 + rows2)
            train2Fraction = Double(rows2) / Double(rows1 + rows2)
        } else {
            if let rows = train2Rows { train2Fraction = Swift.min(0.5, Double(rows) / official) }
            if let rows = train1Rows { train1Fraction = Swift.min(1 - train2Fraction, Double(rows) / official) }
            else { train1Fraction = 1 - train2Fraction }
        }
        let split = try Study2Protocol(train1Fraction: train1Fraction, train2Fraction: train2Fraction, seed: dataSeed).split(dataset)
        // The FCN takes flattened pixels; a CNN keeps the image shape.
        let shaped = { (data: LabeledData) in cnn == nil ? data.flattened : data }
        var test = shaped(split.test)
        if let rows = testRows, rows < test.rowCount {
            test = test.stratifiedSplit(heldOutFraction: Double(rows) / Double(test.rowCount), seed: dataSeed &+ 17).heldOut
        }
        let train1 = shaped(split.train1), train2 = shaped(split.train2)
        guard train1.rowCount >= 2, train2.rowCount >= 1, test.rowCount >= 1 else {
            throw EvolutionError.invalidSetting(
                "dataset '\(dataset.name)' (\(dataset.rowCount) rows) splits into \(train1.rowCount) Train1, \(train2.rowCount) Train2 and "
                + "\(test.rowCount) test rows; expected at least 2 Train1 rows and 1 row in each other part")
        }
        return Data(search: SearchSplits(train: train1, validation: train2, test: test),
                    final: SearchSplits(train: train1.appending(train2), validation: train2, test: test),
                    classCount: train1.classCount, featureCount: train1.featureCount, imageShape: train1.imageShape)
    }

    /// A CNN needs images whose size its layers fit, and a last layer with one output per class.
    static func check(_ cnn: NetworkArchitecture, spec: String, fits dataset: Dataset) throws {
        guard let shape = dataset.imageShape else {
            throw EvolutionError.invalidSetting("--arch \(spec) needs an image dataset (fashion-mnist, mnist-5k, IDX files); "
                                                + "'\(dataset.name)' is tabular (\(dataset.featureCount) features)")
        }
        do { _ = try CNNWeights.shapes(architecture: cnn, inputShape: shape) } catch let error as TrainerError {
            guard case .invalidSpec(let problem) = error else { throw error }
            throw EvolutionError.invalidSetting("--arch \(spec) does not fit the \(shape.map(String.init).joined(separator: "×")) images "
                                                + "of '\(dataset.name)': \(problem)")
        }
        guard cnn.classCount == dataset.classCount else {
            throw EvolutionError.invalidSetting("--arch \(spec) ends in fc:\(cnn.classCount) but '\(dataset.name)' has "
                                                + "\(dataset.classCount) classes; the last layer must be fc:\(dataset.classCount)")
        }
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
