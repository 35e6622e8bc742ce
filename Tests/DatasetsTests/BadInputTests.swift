import Foundation
import Testing
@testable import Datasets

/// Every bad-input case of issue 5 gives its own clear message.
@Suite struct BadInputTests {
    @Test func malformedRowNamesFileLineAndWhat() {
        let message = Fixtures.message { try DatasetRegistry.load(Fixtures.path("malformed-row.csv")) }
        #expect(message?.hasSuffix("malformed-row.csv:4: expected 3 comma-separated values, found 2") == true)
    }

    @Test func labelColumnWithOneClass() {
        let message = Fixtures.message { try DatasetRegistry.load(Fixtures.path("one-class.csv")) }
        #expect(message?.contains("the label column 'label' has only one class ('same')") == true)
    }

    @Test func fileWithNoRows() {
        for name in ["header-only.csv", "empty.csv"] {
            let message = Fixtures.message { try DatasetRegistry.load(Fixtures.path(name)) }
            #expect(message == "\(Fixtures.path(name)): the file has no data rows")
        }
    }

    @Test func constantFeatureIsKeptWithAWarning() throws {
        let dataset = try DatasetRegistry.load(Fixtures.path("constant.csv"))
        #expect(dataset.featureNames == ["a", "flat"])
        #expect(Fixtures.matrix(dataset.data).map { $0[1] } == [7, 7, 7])
        #expect(dataset.warnings.count == 1)
        #expect(dataset.warnings.first?.contains("feature 'flat' is constant") == true)
    }

    @Test func labelColumnWithMostlyDistinctValuesWarns() throws {
        let folder = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let url = folder.appendingPathComponent("regression.csv")
        try Data((0..<30).map { "\($0),\(Double($0) * 1.5)\n" }.joined().utf8).write(to: url)
        let dataset = try DatasetRegistry.load(url.path)
        #expect(dataset.classCount == 30)
        #expect(dataset.warnings.contains { $0.contains("30 distinct values in 30 rows") })
        #expect(try DatasetRegistry.load(Fixtures.path("people.csv")).warnings.isEmpty)
    }

    @Test func mixedNumericAndTextColumn() {
        let message = Fixtures.message { try DatasetRegistry.load(Fixtures.path("mixed-column.csv")) }
        #expect(message?.contains("column 'b' mixes numbers and text ('2' on line 2, 'high' on line 3)") == true)
    }

    @Test func missingRegistryFilesNameTheDatasetAndMakeData() throws {
        let empty = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: empty) }
        let message = Fixtures.message { try DatasetRegistry.load("keel/wine", dataRoot: empty) }
        #expect(message?.contains("dataset 'keel/wine' is not present") == true)
        #expect(message?.contains("keel/wine.dat") == true)
        #expect(message?.contains("make data") == true)
    }

    @Test func unknownNameSuggestsNeighbours() {
        let message = Fixtures.message { try DatasetRegistry.load("wine") }
        #expect(message?.contains("unknown dataset 'wine'") == true)
        #expect(message?.contains("'keel/wine'") == true)
        #expect(message?.contains("'sklearn/wine'") == true)
    }

    @Test func unknownLabelColumnListsColumns() {
        let message = Fixtures.message { try DatasetRegistry.load(Fixtures.path("people.csv"), options: LoadOptions(labelColumn: "colour")) }
        #expect(message?.contains("no label column 'colour'") == true)
        #expect(message?.contains("height, city, species, weight") == true)
    }

    @Test func headerViolationsAndDeclaredTypes() throws {
        let folder = try Fixtures.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        func write(_ text: String, _ name: String) throws -> String {
            let url = folder.appendingPathComponent(name)
            try Data(text.utf8).write(to: url)
            return url.path
        }
        let badNumber = try write("@relation r\n@attribute a real\n@attribute c {x,y}\n@data\n1,x\nlow,y\n", "n.arff")
        #expect(Fixtures.message { try DatasetRegistry.load(badNumber) } == "\(badNumber):6: column 'a' is declared numeric but holds 'low'")
        let badLevel = try write("@relation r\n@attribute a {p,q}\n@attribute c {x,y}\n@data\np,x\nr,y\n", "l.arff")
        #expect(Fixtures.message { try DatasetRegistry.load(badLevel) }?.contains("l.arff:6: column 'a' holds 'r'") == true)
        let badClass = try write("@relation r\n@attribute a real\n@attribute c {x,y}\n@data\n1,x\n2,z\n", "c.arff")
        #expect(Fixtures.message { try DatasetRegistry.load(badClass) }?.contains("c.arff:6: label 'z' is not one of the declared classes") == true)
        let badType = try write("@relation r\n@attribute a relational\n@data\n", "t.arff")
        #expect(Fixtures.message { try DatasetRegistry.load(badType) }?.contains("t.arff:2: bad header: attribute 'a' has type 'relational'") == true)
        let sparse = try write("@relation r\n@attribute a real\n@attribute c {x,y}\n@data\n{0 1, 1 x}\n", "s.arff")
        #expect(Fixtures.message { try DatasetRegistry.load(sparse) }?.contains("s.arff:5: sparse ARFF rows") == true)
        let missingLabel = try write("1,x\n2,?\n3,y\n", "m.csv")
        #expect(Fixtures.message { try DatasetRegistry.load(missingLabel, options: LoadOptions(missing: .mean)) }
                == "\(missingLabel):2: the label is missing; rows without a label cannot be used")
    }
}
