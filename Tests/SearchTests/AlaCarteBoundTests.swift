import GPUEngine
import Testing
@testable import Search

/// The device bound of `bench alacarte --bound` on a network small enough to count by hand.
@Suite struct AlaCarteBoundTests {
    static func run(_ log: [AlaCarteBenchmark.Run.TrialLine]) -> AlaCarteBenchmark.Run {
        AlaCarteBenchmark.Run(dataset: "toy", trainRows: 100, validationRows: 50, trials: log.count, population: 2,
                              wallSeconds: 2, compileSeconds: 0, candidateEpochs: 4, trained: log.count, diverged: 0,
                              medianEpochs: 2, pool: nil, trialLog: log)
    }
    static let costs = [
        ActivationSpanBench.Cost(name: "f", expression: "f(x)", path: "slopes", trainNanoseconds: 1, evaluateNanoseconds: 0.5),
        ActivationSpanBench.Cost(name: "g", expression: "g(x)", path: "slopes", trainNanoseconds: 3, evaluateNanoseconds: 1.5),
    ]

    @Test func countsTheGEMMsAndWeighsTheFunctionsByTheirEpochs() throws {
        // widths 4 -> 32 -> 2: weights 128 + 64 = 192, the first layer's 128 without a data gradient.
        // FLOPs: 2 (100 + 50) 192 + 2 100 192 + 2 100 64 = 57600 + 38400 + 12800 = 108800; at 1 GFLOP/s 108.8 us.
        // Slots weighted by epochs: trial 1 (f, g) 3 epochs, trial 2 (g, g) 1 epoch, trial 3 never trained:
        // train (3 (1 + 3) + 1 (3 + 3)) / 8 = 2.25 ns, evaluate (3 (0.5 + 1.5) + 1 (1.5 + 1.5)) / 8 = 1.125 ns.
        // Elements per row: 32 + 2 rounded up to 32 = 64; (100 x 2.25 + 50 x 1.125) x 64 ns over 2 units = 9 us.
        let log = [AlaCarteBenchmark.Run.TrialLine(functions: ["f", "g"], epochs: 3, diverged: false),
                   AlaCarteBenchmark.Run.TrialLine(functions: ["g", "g"], epochs: 1, diverged: false),
                   AlaCarteBenchmark.Run.TrialLine(functions: ["f", "f"], epochs: nil, diverged: false)]
        let bound = try #require(AlaCarteBound.compute(run: Self.run(log), widths: [4, 32, 2], costs: Self.costs,
                                                       peakGFLOPs: 1, computeUnits: 2))
        #expect(abs(bound.gemmMFLOP - 0.1088) < 1e-12)
        #expect(abs(bound.gemmMicroseconds - 108.8) < 1e-9)
        #expect(abs(bound.trainNanoseconds - 2.25) < 1e-12 && abs(bound.evaluateNanoseconds - 1.125) < 1e-12)
        #expect(abs(bound.activationMicroseconds - 9) < 1e-9)
        #expect(abs(bound.candidateEpochsPerSecond - 1e6 / 117.8) < 1e-6)
        // The run trained 4 candidate-epochs in 2 s.
        #expect(abs(bound.share - 2 / (1e6 / 117.8)) < 1e-12)
    }

    @Test func theGEMMsArePricedAtTheHigherOfTheTwoRates() throws {
        let log = [AlaCarteBenchmark.Run.TrialLine(functions: ["f", "g"], epochs: 3, diverged: false)]
        // The vendor's BLAS slower than afsearch's peak: the peak prices the GEMMs, the vendor's rate is kept.
        let slower = try #require(AlaCarteBound.compute(run: Self.run(log), widths: [4, 32, 2], costs: Self.costs,
                                                        peakGFLOPs: 1, vendorGFLOPs: 0.5, computeUnits: 2))
        #expect(slower.peakGFLOPs == 1 && slower.measuredPeakGFLOPs == 1 && slower.vendorGFLOPs == 0.5)
        #expect(abs(slower.gemmMicroseconds - 108.8) < 1e-9)
        // Faster: 108800 FLOP at 4 GFLOP/s is 27.2 us; the GEMMs alone bound the study at 1 / 27.2 us.
        let faster = try #require(AlaCarteBound.compute(run: Self.run(log), widths: [4, 32, 2], costs: Self.costs,
                                                        peakGFLOPs: 1, vendorGFLOPs: 4, computeUnits: 2))
        #expect(faster.peakGFLOPs == 4 && faster.measuredPeakGFLOPs == 1)
        #expect(abs(faster.gemmMicroseconds - 27.2) < 1e-9)
        #expect(abs(faster.gemmOnlyCandidateEpochsPerSecond - 1e6 / 27.2) < 1e-6)
        #expect(faster.candidateEpochsPerSecond < faster.gemmOnlyCandidateEpochsPerSecond)
        #expect(faster.fmaCandidateEpochsPerSecond == nil)
        // With the FMA peak measured: the GEMMs at 8 GFLOP/s (13.6 us) beside the same activation spans, here
        // (100 x 2 + 50 x 1) x 64 ns over 2 units = 8 us.
        let ceiling = try #require(AlaCarteBound.compute(run: Self.run(log), widths: [4, 32, 2], costs: Self.costs,
                                                         peakGFLOPs: 1, vendorGFLOPs: 4, fmaPeakGFLOPs: 8, computeUnits: 2))
        #expect(abs(ceiling.activationMicroseconds - 8) < 1e-9)
        #expect(abs(ceiling.fmaCandidateEpochsPerSecond! - 1e6 / 21.6) < 1e-6)
        #expect(abs(ceiling.candidateEpochsPerSecond - 1e6 / 35.2) < 1e-6)
    }

    @Test func aFunctionWithoutACostGivesNoBound() {
        let log = [AlaCarteBenchmark.Run.TrialLine(functions: ["f", "h"], epochs: 2, diverged: false)]
        #expect(AlaCarteBound.compute(run: Self.run(log), widths: [4, 32, 2], costs: Self.costs, peakGFLOPs: 1, computeUnits: 2) == nil)
    }
}
