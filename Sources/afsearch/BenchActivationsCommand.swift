import ArgumentParser
import Foundation
import GPUEngine

/// `afsearch bench activations`: what each function of a menu costs the fused training pass, alone.
struct BenchActivationsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "activations",
        abstract: "Time each menu function's spans of the fused training pass (value and slope, evaluation) per element.",
        discussion: """
            Runs the trainer's own span helpers (the program the trainer builds for the menu, study 1's 64-unit \
            layers) over one 4 x 64 tile per work-item, many passes a launch, best of --repetitions, with the copy \
            that refills the tile subtracted. Costs are nanoseconds per element per compute unit: a study's \
            activation time is the cost times the elements its layers hold (rows x units x layers, each epoch). \
            "train" is the forward's value (and slope) plus the backward's part that depends on the function; \
            "evaluate" is the value alone.
            """)

    @OptionGroup var common: BenchOptions

    @Option(name: .long, help: "Menu (paper1, or a comma-separated list of expressions).")
    var menu = "paper1"

    @Option(name: .long, help: "Timed launches per function and mode (the fastest counts).")
    var repetitions = 5

    @Option(name: .long, help: "Span passes per work-item in one launch.")
    var passes = 2000

    func validate() throws {
        try checkCount(repetitions, option: "--repetitions", max: 1000)
        try checkCount(passes, option: "--passes", max: 10_000_000)
    }

    func run() async throws {
        let choices = try AlacarteMenus.resolve(menu).choices
        let device = try common.deviceOptions.select()
        var bench = ActivationSpanBench(device: device)
        bench.repetitions = repetitions
        bench.passes = passes
        if !common.json { print("device: \(device.info.name)") }
        let result = try bench.measure(menu: choices.map { ($0.name, $0.expression) }) { cost in
            if !common.json { FileHandle.standardError.write(Data((Self.row(cost, relu: nil) + "\n").utf8)) }
        }
        if common.json {
            try JSONOutput.print(result)
            return
        }
        let relu = result.costs.first { $0.expression == "relu(x)" }
        print(String(format: "span %d elements; the copy refilling it %.3f ns/element, subtracted", result.spanElements, result.copyNanoseconds))
        print("sorted by training cost (ns per element per compute unit):")
        for cost in result.costs.sorted(by: { $0.trainNanoseconds > $1.trainNanoseconds }) { print(Self.row(cost, relu: relu)) }
        print(String(format: "menu mean (each function equally likely): train %.3f, evaluate %.3f ns/element",
                     result.meanTrainNanoseconds, result.meanEvaluateNanoseconds))
    }

    static func row(_ c: ActivationSpanBench.Cost, relu: ActivationSpanBench.Cost?) -> String {
        var line = benchPadded(c.name, 20, left: true) + " " + benchPadded(c.path, 10, left: true)
            + String(format: "  train %7.3f  evaluate %7.3f", c.trainNanoseconds, c.evaluateNanoseconds)
        if let relu, relu.trainNanoseconds > 0 {
            line += String(format: "  (%.1fx relu's train)", c.trainNanoseconds / relu.trainNanoseconds)
        }
        return line
    }
}
