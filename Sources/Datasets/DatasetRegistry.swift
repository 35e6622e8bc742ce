import Foundation

/// Options that apply to loading any dataset.
public struct LoadOptions: Sendable {
    public var missing: MissingValuePolicy
    /// For a path to a CSV/ARFF/KEEL file: which column holds the class (default: KEEL `@outputs`, else last).
    public var labelColumn: LabelColumn?
    /// For a path to a CSV file.
    public var csvHeader: CSVHeader

    public init(missing: MissingValuePolicy = .reject, labelColumn: LabelColumn? = nil, csvHeader: CSVHeader = .auto) {
        self.missing = missing
        self.labelColumn = labelColumn
        self.csvHeader = csvHeader
    }
}

/// Named datasets (`keel/wine`, `sklearn/digits`, `fashion-mnist`, `mnist-5k`) and paths to files.
public enum DatasetRegistry {
    /// Every dataset `make data` fetches, in listing order.
    public static var all: [DatasetInfo] { DatasetCatalog.all }

    /// Names of the known suites (`paper1`, `paper2`).
    public static var suiteNames: [String] { DatasetCatalog.suites.keys.sorted() }

    public static func suite(_ name: String) throws -> [DatasetInfo] {
        guard let names = DatasetCatalog.suites[name] else {
            throw DatasetError.invalidArgument("unknown suite '\(name)'; expected one of: \(suiteNames.joined(separator: ", "))")
        }
        return names.map { info(named: $0)! }
    }

    public static func info(named name: String) -> DatasetInfo? {
        all.first { $0.name == name }
    }

    /// `$AFSEARCH_DATA`, else `~/.cache/afsearch/data` (where `make data` puts the files).
    public static var defaultDataRoot: URL {
        if let path = ProcessInfo.processInfo.environment["AFSEARCH_DATA"], !path.isEmpty {
            return URL(fileURLWithPath: path, isDirectory: true)
        }
        return FileManager.default.homeDirectoryForCurrentUser
            .appendingPathComponent(".cache/afsearch/data", isDirectory: true)
    }

    public static func isPresent(_ info: DatasetInfo, dataRoot: URL = defaultDataRoot) -> Bool {
        info.files.allSatisfy { FileManager.default.fileExists(atPath: dataRoot.appendingPathComponent($0).path) }
    }

    /// Loads a registry name or a file path (`.dat` KEEL, `.arff`, `.csv`/`.csv.gz`, or an IDX image file
    /// `…-images-idx3-ubyte[.gz]` whose labels sit beside it as `…-labels-idx1-ubyte[.gz]`).
    public static func load(_ nameOrPath: String, dataRoot: URL = defaultDataRoot,
                            options: LoadOptions = LoadOptions()) throws -> Dataset {
        if let info = info(named: nameOrPath) {
            let missing = info.files.filter { !FileManager.default.fileExists(atPath: dataRoot.appendingPathComponent($0).path) }
            guard missing.isEmpty else {
                throw DatasetError.missingFiles(dataset: info.name, paths: missing.map { dataRoot.appendingPathComponent($0).path },
                                                dataRoot: dataRoot.path)
            }
            return try load(info, dataRoot: dataRoot, options: options)
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: nameOrPath, isDirectory: &isDirectory), !isDirectory.boolValue else {
            throw DatasetError.unknownDataset(name: nameOrPath, suggestions: suggestions(for: nameOrPath))
        }
        return try loadFile(URL(fileURLWithPath: nameOrPath), options: options)
    }

    /// Sizes measured from the files (the whole set is loaded, except Fashion-MNIST whose IDX headers suffice).
    public static func measure(_ info: DatasetInfo, dataRoot: URL = defaultDataRoot) throws -> DatasetInfo {
        var measured = info
        if info.family == .fashionMNIST {
            let train = try IDXLoader.readDimensions(dataRoot.appendingPathComponent(info.files[0]))
            let test = try IDXLoader.readDimensions(dataRoot.appendingPathComponent(info.files[2]))
            measured.rows = train.dimensions[0] + test.dimensions[0]
            measured.officialTestRows = test.dimensions[0]
            measured.features = train.dimensions.dropFirst().reduce(1, *)
            measured.attributes = measured.features
            return measured
        }
        let dataset = try load(info.name, dataRoot: dataRoot)
        measured.rows = dataset.rowCount
        measured.features = dataset.featureCount
        measured.classes = dataset.classCount
        measured.categorical = dataset.hasCategoricalFeatures
        measured.attributes = dataset.columnKinds.isEmpty ? dataset.featureCount : dataset.columnKinds.count
        return measured
    }

    // MARK: - Families

    private static func load(_ info: DatasetInfo, dataRoot: URL, options: LoadOptions) throws -> Dataset {
        let urls = info.files.map { dataRoot.appendingPathComponent($0) }
        var dataset: Dataset
        switch info.family {
        case .keel:
            dataset = try AttributeFileLoader.load(urls[0], format: .keel,
                                                   options: .init(labelColumn: nil, missing: options.missing), name: info.name)
        case .sklearn:
            dataset = try loadSklearn(urls[0], info: info, missing: options.missing)
        case .mnist5k:
            dataset = try CSVLoader.load(urls[0], options: .init(header: .absent, labelColumn: .last, missing: options.missing))
            dataset = asImages(dataset, shape: info.imageShape!, scale: 1 / 255)
        case .fashionMNIST:
            let train = try IDXLoader.load(images: urls[0], labels: urls[1], classCount: 10)
            let test = try IDXLoader.load(images: urls[2], labels: urls[3], classCount: 10)
            dataset = Dataset(name: info.name, source: dataRoot.appendingPathComponent("fashion-mnist").path, data: train,
                              officialTest: test, classNames: DatasetCatalog.fashionClasses,
                              featureNames: pixelNames(train.imageShape!))
        }
        dataset.name = info.name
        return dataset
    }

    /// scikit-learn's bundled CSVs: a first line `rows,features,class names…` (iris, wine, breast_cancer)
    /// and class indices as labels; digits.csv.gz has no such line and 0–16 pixel counts.
    private static func loadSklearn(_ url: URL, info: DatasetInfo, missing: MissingValuePolicy) throws -> Dataset {
        let bytes = try Gzip.readMaybeCompressed(url)
        var firstLine: [String] = []
        TextSplitter.forEachLine(bytes) { _, line in firstLine = TextSplitter.cells(line, delimiter: UInt8(ascii: ",")); return false }
        let hasCountsLine = firstLine.count >= 2 && Int(firstLine[0]) == info.rows && Int(firstLine[1]) == info.features
        var table = try CSVLoader.parse(bytes, path: url.path, options: .init(header: .absent, missing: missing))
        var classNames: [String]?
        if hasCountsLine {
            table.cells.rows.removeFirst()
            table.cells.lines.removeFirst()
            classNames = Array(firstLine.dropFirst(2))
            table.columnNames = (0...info.features).map { "col\($0)" }
            table.declaredKinds = Array(repeating: nil, count: info.features + 1)
            table.labelColumn = info.features
        }
        let encoded = try TableEncoder.encode(table, missing: missing)
        var dataset = Dataset(name: info.name, source: url.path, encoded: encoded)
        if let classNames, classNames.count == dataset.classNames.count {
            // Labels are 0-based indices into the names of the counts line.
            dataset.classNames = dataset.classNames.map { classNames[Int($0) ?? 0] }
        }
        if let shape = info.imageShape { dataset = asImages(dataset, shape: shape, scale: 1 / 16) }
        return dataset
    }

    private static func asImages(_ dataset: Dataset, shape: [Int], scale: Float) -> Dataset {
        var result = dataset
        for i in result.data.features.indices { result.data.features[i] *= scale }
        result.data.imageShape = shape
        result.columnKinds = []
        result.featureNames = pixelNames(shape)
        // Border pixels that are 0 in every image are expected in image sets; keep warnings for other things.
        result.warnings = []
        return result
    }

    private static func pixelNames(_ shape: [Int]) -> [String] {
        let (h, w) = (shape[shape.count - 2], shape[shape.count - 1])
        let c = shape.count == 3 ? shape[0] : 1
        return (0..<c).flatMap { ch in (0..<h).flatMap { y in (0..<w).map { x in c == 1 ? "px[\(y),\(x)]" : "px[\(ch),\(y),\(x)]" } } }
    }

    private static func loadFile(_ url: URL, options: LoadOptions) throws -> Dataset {
        let name = url.lastPathComponent.lowercased()
        let stem = name.hasSuffix(".gz") ? String(name.dropLast(3)) : name
        if stem.contains("-images-idx") || stem.contains("-labels-idx") {
            let images = URL(fileURLWithPath: url.path.replacingOccurrences(of: "-labels-idx1", with: "-images-idx3"))
            let labels = URL(fileURLWithPath: url.path.replacingOccurrences(of: "-images-idx3", with: "-labels-idx1"))
            let data = try IDXLoader.load(images: images, labels: labels)
            return Dataset(name: url.lastPathComponent, source: images.path, data: data,
                           classNames: (0..<data.classCount).map(String.init), featureNames: pixelNames(data.imageShape!))
        }
        try checkText(url)
        if stem.hasSuffix(".dat") {
            return try AttributeFileLoader.load(url, format: .keel,
                                                options: .init(labelColumn: options.labelColumn, missing: options.missing))
        }
        if stem.hasSuffix(".arff") {
            return try AttributeFileLoader.load(url, format: .arff,
                                                options: .init(labelColumn: options.labelColumn, missing: options.missing))
        }
        return try CSVLoader.load(url, options: .init(header: options.csvHeader, labelColumn: options.labelColumn ?? .last,
                                                      missing: options.missing))
    }

    /// A table file must be text: a NUL byte in its first 64 KiB (after gunzip) means a binary file was named, which the row parser would only describe as a wrong number of columns.
    private static func checkText(_ url: URL) throws {
        let data: Data
        if url.pathExtension.lowercased() == "gz" {
            data = try Gzip.readMaybeCompressed(url)
        } else {
            guard let handle = try? FileHandle(forReadingFrom: url) else { return }
            defer { try? handle.close() }
            data = (try? handle.read(upToCount: 65_536)) ?? Data()
        }
        let head = data.prefix(65_536)
        if let zero = head.firstIndex(of: 0) {
            throw DatasetError.unreadable(path: url.path, detail: "it holds binary data (a zero byte at offset \(zero - head.startIndex)); "
                                          + "expected a text table (.csv, .dat, .arff) or an IDX image file")
        }
    }

    private static func suggestions(for name: String) -> [String] {
        let key = name.lowercased().split(separator: "/").last.map(String.init) ?? name.lowercased()
        guard !key.isEmpty else { return [] }
        return all.map(\.name).filter { $0.lowercased().contains(key) || key.contains($0.split(separator: "/").last!.lowercased()) }
            .prefix(5).map { $0 }
    }
}
