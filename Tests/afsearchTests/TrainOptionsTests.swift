import Foundation
import Testing

/// `train`'s own test set, unstandardised features, negative values read as values, and the ARFF warning.
@Suite struct TrainOptionsTests {
    @Test func trainTakesItsOwnTestSetWithoutStandardising() throws {
        let cli = try CLI()
        let train = cli.root.appendingPathComponent("train.csv"), test = cli.root.appendingPathComponent("test.csv")
        var rows = ["a,b,label"]
        for i in 0..<24 { rows.append("\(i % 6),\(Double(i % 4) * 0.5),\(i % 2 == 0 ? "even" : "odd")") }
        try rows.joined(separator: "\n").write(to: train, atomically: true, encoding: .utf8)
        // The test set lists its classes in the other order: labels follow the names, not the positions.
        var testRows = ["a,b,label"]
        for i in 0..<7 { testRows.append("\(i % 5),\(Double(i % 3) * 0.5),\(i % 2 == 1 ? "odd" : "even")") }
        try testRows.joined(separator: "\n").write(to: test, atomically: true, encoding: .utf8)

        let result = try cli.run(["train", "--dataset", train.path, "--test-dataset", test.path, "--test-fraction", "0",
                                  "--no-standardize", "--layers", "4", "--activations", "relu", "--epochs", "1"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("24 train / 7 test rows"), "\(result.stdout)")
        #expect(result.stdout.contains("(\(test.path), not standardised)"), "\(result.stdout)")
        #expect(result.stdout.contains("1 epoch\n") || result.stdout.contains("1 epoch,") || result.stdout.contains(", 1 epoch"), "\(result.stdout)")
        #expect(!result.stdout.contains("1 epochs"))
    }

    @Test func missingValuesAreImputedWhenAsked() throws {
        let cli = try CLI()
        let csv = cli.root.appendingPathComponent("gaps.csv")
        var rows = ["a,b,label"]
        for i in 0..<20 { rows.append("\(i % 5 == 0 ? "?" : String(i % 7)),\(i % 3),\(i % 2 == 0 ? "p" : "q")") }
        try rows.joined(separator: "\n").write(to: csv, atomically: true, encoding: .utf8)
        let refused = try cli.run(["train", "--dataset", csv.path, "--layers", "4", "--activations", "relu", "--epochs", "1"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("--impute mean"), "\(refused.stderr)")
        let imputed = try cli.run(["train", "--dataset", csv.path, "--impute", "mean", "--layers", "4", "--activations", "relu", "--epochs", "1"])
        #expect(imputed.status == 0, "\(imputed.stderr)")
    }

    @Test func menuNotesALayerwiseEntryOnce() throws {
        let cli = try CLI()
        let menu = try cli.run(["menu", "paper1"])
        #expect(menu.status == 0)
        #expect(menu.stdout.contains("across the layer"))
        #expect(!menu.stdout.contains("across the layer [across the layer]"))
    }

    @Test func negativeValuesAreValues() throws {
        let cli = try CLI()
        let eval = try cli.run(["eval", "-x*2", "--at", "-1,2", "--cpu", "--json"])
        #expect(eval.status == 0, "\(eval.stderr)")
        let rows = try #require(eval.json as? [[String: Any]])
        #expect(rows.compactMap { $0["value"] as? Double } == [2, -4])
        let before = try cli.run(["eval", "--at", "-1", "-exp(x)", "--cpu"])
        #expect(before.status == 0, "\(before.stderr)")
        let lr = try cli.run(["train", "--dataset", "x.csv", "--activations", "relu", "--lr", "-1"])
        #expect(lr.status == 64)
        #expect(lr.stderr.hasPrefix("Error: --lr must be a positive number no larger than 1000000, got -1\n"), "\(lr.stderr)")
        #expect(lr.stderr.contains("Usage: afsearch train"))
        #expect(lr.stderr.contains("See 'afsearch train --help'"))
    }

    @Test func literalsBeyondFloatRangeAreRefused() throws {
        let cli = try CLI()
        let big = try cli.run(["eval", "1e39*x", "--at", "1", "--cpu"])
        #expect(big.status == 64)
        #expect(big.stderr.contains("number 1e39 is beyond float32's range"), "\(big.stderr)")
        let inf = try cli.run(["eval", "inf*x", "--at", "1", "--cpu"])
        #expect(inf.status == 0, "\(inf.stderr)")
    }

    @Test func arffTextAttributesAreNamedInAWarning() throws {
        let cli = try CLI()
        let arff = cli.root.appendingPathComponent("people.arff")
        var text = "@relation people\n@attribute name string\n@attribute age numeric\n@attribute class {a,b}\n@data\n"
        for i in 0..<8 { text += "'p\(i % 3)',\(20 + i),\(i % 2 == 0 ? "a" : "b")\n" }
        try text.write(to: arff, atomically: true, encoding: .utf8)
        let described = try cli.run(["datasets", arff.path])
        #expect(described.status == 0, "\(described.stderr)")
        #expect(described.stderr.contains("attribute 'name' is a string attribute; its values are one-hot encoded"), "\(described.stderr)")
        #expect(described.stderr.contains("people.arff:2:"), "\(described.stderr)")
    }
}

@testable import afsearch

/// A study folder run with another data recipe names the fields that differ, not the whole recipe.
@Suite struct RecipeDifferenceTests {
    @Test func onlyTheDifferingFieldsAreNamed() throws {
        let stored = Data(#"{"dataset":"mnist-5k","epochs":3,"learningRate":0.01,"train1Rows":4000}"#.utf8)
        let requested = Data(#"{"dataset":"mnist-5k","epochs":5,"learningRate":0.01,"train1Rows":4000}"#.utf8)
        let text = EvolutionCLI.recipeDifferences(stored: stored, requested: requested)
        #expect(text == "epochs 3 (stored) vs 5 (now)")
    }
}

/// How arguments that start with '-' are re-read when the plain parse fails.
@Suite struct HyphenatedValueTests {
    @Test func aNegativeNumberJoinsTheOptionBeforeIt() {
        let readings = HyphenatedValues.readings(["train", "--lr", "-1", "--json"])
        #expect(readings.first == ["train", "--lr=-1", "--json"])
        #expect(readings.contains(["train", "--lr", "--json", "--", "-1"]))
    }

    @Test func anExpressionBecomesThePositional() {
        let readings = HyphenatedValues.readings(["eval", "-x*2", "--at", "1"])
        #expect(readings == [["eval", "--at", "1", "--", "-x*2"]])
        // After an existing terminator, the positional goes first among what follows it.
        #expect(HyphenatedValues.readings(["eval", "--at", "-1", "--", "x"]).first == ["eval", "--at=-1", "--", "x"])
    }

    @Test func helpAndLongOptionsAreNotValues() {
        #expect(HyphenatedValues.readings(["train", "-h"]).isEmpty)
        #expect(HyphenatedValues.readings(["train", "--json"]).isEmpty)
        #expect(!HyphenatedValues.looksLikeValue("-"))
    }
}
