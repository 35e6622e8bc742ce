import Foundation
import Testing
@testable import Datasets

@Suite struct RegistryTests {
    @Test func catalogHoldsTheFetchedSets() {
        let names = DatasetRegistry.all.map(\.name)
        #expect(names.filter { $0.hasPrefix("keel/") }.count == 43)
        #expect(Set(names).count == names.count)
        for name in ["keel/wine", "keel/letter", "sklearn/iris", "sklearn/wine", "sklearn/breast_cancer", "sklearn/digits",
                     "fashion-mnist", "mnist-5k"] {
            #expect(names.contains(name), "\(name)")
        }
        #expect(DatasetRegistry.info(named: "fashion-mnist")?.imageShape == [1, 28, 28])
    }

    @Test func paper1SuiteSpansTheRequiredRanges() throws {
        let suite = try DatasetRegistry.suite("paper1")
        #expect(suite.count == 25)
        #expect(suite.allSatisfy { $0.family == .keel })
        #expect(suite.map(\.rows).min() == 150 && suite.map(\.rows).max() == 20_000)
        #expect(suite.map(\.classes).min() == 2 && suite.map(\.classes).max() == 26)
        #expect(suite.contains { $0.categorical } && suite.contains { !$0.categorical })
        #expect(Fixtures.message { try DatasetRegistry.suite("paper9") }?.contains("unknown suite 'paper9'") == true)
    }

    /// Runs only where `make data` has been run: the table's sizes match what the loaders read from the
    /// real files, for a sample that covers every family and a categorical KEEL set.
    @Test(.enabled(if: DatasetRegistry.all.allSatisfy { DatasetRegistry.isPresent($0) }, "needs `make data`"))
    func tableMatchesTheRealFiles() throws {
        for name in ["keel/iris", "keel/breast", "keel/mushroom", "sklearn/iris", "sklearn/breast_cancer", "sklearn/digits",
                     "fashion-mnist"] {
            let info = DatasetRegistry.info(named: name)!
            let measured = try DatasetRegistry.measure(info)
            #expect(measured == info, "\(name)")
        }
        let iris = try DatasetRegistry.load("sklearn/iris")
        #expect(iris.classNames == ["setosa", "versicolor", "virginica"])
        #expect(iris.data.classCounts == [50, 50, 50])
        let digits = try DatasetRegistry.load("sklearn/digits")
        #expect(digits.imageShape == [1, 8, 8] && digits.data.features.max() == 1)
        let mushroom = try DatasetRegistry.load("keel/mushroom")
        #expect(mushroom.warnings.count == 1)  // one attribute has a single level
    }
}
