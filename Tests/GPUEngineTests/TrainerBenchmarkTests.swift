import Foundation
import Testing
import Kernels
@testable import GPUEngine

/// The study-1 throughput workload on the trainer, for measuring while optimising (not a timed test: it
/// only prints). Run with `AFSEARCH_TRAINER_BENCH=1 swift test --filter TrainerBenchmarkTests`;
/// `AFSEARCH_TRAINER_BENCH_P`, `_L`, `_EPOCHS` vary it. The official numbers come from `afsearch bench train`.
@Suite struct TrainerBenchmarkTests {
    static var env: [String: String] { ProcessInfo.processInfo.environment }

    @Test(.enabled(if: env["AFSEARCH_TRAINER_BENCH"] == "1"))
    func study1Throughput() throws {
        var w = Study1Workload()
        w.population = Int(Self.env["AFSEARCH_TRAINER_BENCH_P"] ?? "") ?? 64
        w.layers = Int(Self.env["AFSEARCH_TRAINER_BENCH_L"] ?? "") ?? 5
        w.epochs = Int(Self.env["AFSEARCH_TRAINER_BENCH_EPOCHS"] ?? "") ?? 50
        let cycle = Study1Workload.activationCycle
        let identity = Self.env["AFSEARCH_TRAINER_BENCH_ACT"] == "identity"
        let candidates = (0..<w.population).map { i in
            Candidate(activations: Array(repeating: identity ? .x : .unary(cycle[i % cycle.count], .x), count: w.layers - 1))
        }
        let trainer = PopulationTrainer(device: TrainerFixture.device)
        // The tile `afsearch bench train` measures (four-vector tiles allowed).
        trainer.tile = TileShape.choose(for: TrainerFixture.device.peakHint, widths: w.widths, maxVectors: 4)
        trainer.profileKernels = Self.env["AFSEARCH_TRAINER_BENCH_PROFILE"] == "1"
        let data = w.syntheticData()
        // Warm-up (program build), then the measured run.
        var warm = w.config
        warm.epochs = 1
        _ = try trainer.train(candidates: candidates, spec: try w.spec(), config: warm, train: data)
        let run = try trainer.train(candidates: candidates, spec: try w.spec(), config: w.config, train: data)
        let t = run.timing.trainSeconds
        let ce = Double(w.population * w.epochs) / t
        print(String(format: "study1 P=%d L=%d n=%d epochs=%d: train %.3f s, %.1f candidate-epochs/s, %.1f GFLOP/s (compile %.2f s, eval %.3f s)",
                     w.population, w.layers, w.samples, w.epochs, t, ce, ce * w.flopsPerCandidateEpoch / 1e9,
                     run.timing.compileSeconds, run.timing.evaluateSeconds))
        for (k, v) in run.timing.kernelSeconds.sorted(by: { $0.value > $1.value }) {
            print(String(format: "  %-24@ %8.3f s", k as NSString, v))
        }
        #expect(run.candidates.allSatisfy { $0.history.count == w.epochs })
    }
}

extension TrainerBenchmarkTests {
    /// Writes the study-1 population's program source to $AFSEARCH_TRAINER_DUMP, for kernel experiments.
    @Test(.enabled(if: env["AFSEARCH_TRAINER_DUMP"] != nil))
    func dumpStudy1Source() throws {
        let w = Study1Workload()
        let pop = try PopulationProgram(candidates: w.candidates(), tile: TileShape(rows: 4, vectorWidth: 16, vectors: 4),
                                        activationSource: { try ActivationCodegen.checkedSource(for: $0) })
        try pop.source.write(toFile: Self.env["AFSEARCH_TRAINER_DUMP"]!, atomically: true, encoding: .utf8)
    }
}
