import Foundation
import Testing
import Kernels
import Datasets
@testable import GPUEngine

/// The GPU profile (`DeviceProfile`) makes the trainers take a GPU's path on any device: the 4 × float4
/// tile, per-layer launches instead of fused row passes, driver-chosen work-group sizes, no CPU loop hints.
/// Here it is set per trainer, so these tests run under either `AFSEARCH_PROFILE`.
@Suite(.serialized) struct DeviceProfileTests {
    static let device = TrainerFixture.device

    @Test func resolutionPrefersTheTrainerThenTheVariableThenTheDevice() throws {
        let own = DeviceProfile(of: Self.device)
        #expect(own == (Self.device.info.kind == .cpu ? .cpu : .gpu))
        #expect(try DeviceProfile.resolve(nil, device: Self.device, environment: [:]) == own)
        #expect(try DeviceProfile.resolve(nil, device: Self.device, environment: ["AFSEARCH_PROFILE": ""]) == own)
        #expect(try DeviceProfile.resolve(nil, device: Self.device, environment: ["AFSEARCH_PROFILE": "gpu"]) == .gpu)
        #expect(try DeviceProfile.resolve(nil, device: Self.device, environment: ["AFSEARCH_PROFILE": "cpu"]) == .cpu)
        #expect(try DeviceProfile.resolve(.cpu, device: Self.device, environment: ["AFSEARCH_PROFILE": "gpu"]) == .cpu)
        do {
            _ = try DeviceProfile.resolve(nil, device: Self.device, environment: ["AFSEARCH_PROFILE": "GPU"])
            Issue.record("an unknown AFSEARCH_PROFILE was accepted")
        } catch let error as TrainerError {
            #expect(error.description.contains("AFSEARCH_PROFILE='GPU'") && error.description.contains("cpu or gpu"), "\(error)")
        }
    }

    @Test func gpuProfileChoosesTheGPUTileForBothTrainers() throws {
        let mlp = PopulationTrainer(device: Self.device)
        mlp.profile = .gpu
        #expect(try mlp.tuning(widths: [20, 64, 64, 3]).tile == TileShape(rows: 4, vectorWidth: 4, vectors: 1))
        let cnn = PopulationCNNTrainer(device: Self.device)
        cnn.profile = .gpu
        #expect(try cnn.tuning(inputChannels: 2, architecture: CNNFixture.arch).tile == TileShape(rows: 4, vectorWidth: 4, vectors: 1))
        // The CPU profile keeps the device's own vector width (float16 on AVX-512).
        mlp.profile = .cpu
        var cpu = Self.device.peakHint
        cpu.kind = .cpu
        #expect(try mlp.tuning(widths: [20, 64, 64, 3]).tile == TileShape.choose(for: cpu, widths: [20, 64, 64, 3], maxVectors: 4))
        #expect(DeviceProfile.gpu.buildOptions.isEmpty && DeviceProfile.cpu.buildOptions == "-DMLP_CPU_LOOP_HINTS")
    }

    /// Hidden layers one CPU tile wide (32 columns on AVX-512): the CPU profile fuses the step's row work,
    /// the GPU profile launches per layer. No learnable parameters, so the two paths round the same: same bits.
    static let spec = try! MLPSpec(widths: [6, 32, 32, 3], lastLayerActivation: false)
    static let candidates: [Candidate] = [
        Candidate(activations: [.unary(.relu, .x), .unary(.tanh, .x)]),
        Candidate(activations: [.unary(.gelu, .x), .unary(.sigmoid, .x)]),
        Candidate(activations: [.unary(.softplus, .x), .unary(.mish, .x)]),
    ]
    static let config = TrainingConfig(epochs: 5, learningRate: 0.01, optimizer: .adam(), seed: 3, evaluateEveryEpoch: false)

    static func train(_ profile: DeviceProfile, execution: ActivationExecution = .compiled) throws -> PopulationTrainingResult {
        let trainer = PopulationTrainer(device: device)
        trainer.profile = profile
        trainer.profileKernels = true
        trainer.activationExecution = execution
        return try trainer.train(candidates: candidates, spec: spec, config: config, train: TrainerFixture.data(rows: 29, seed: 4))
    }

    @Test(arguments: [ActivationExecution.compiled, .interpreted])
    func gpuProfileLaunchesPerLayerMatchesTheReferenceAndTheCPUProfile(execution: ActivationExecution) throws {
        let gpu = try Self.train(.gpu, execution: execution)
        let cpu = try Self.train(.cpu, execution: execution)
        let fusedNames: Set = ["mlp_train_candidate", "mlp_train_rows", "mlp_eval_candidate", "mlp_eval_rows"]
        // The per-layer forward, staged or not (GEMMVariant.preferred).
        #expect(gpu.timing.kernelSeconds.keys.contains { $0.hasPrefix("mlp_forward") } && fusedNames.isDisjoint(with: gpu.timing.kernelSeconds.keys),
                "GPU profile kernels: \(gpu.timing.kernelSeconds.keys.sorted())")
        if TileShape.choose(for: DeviceProfile.cpu.hint(for: Self.device), widths: Self.spec.widths, maxVectors: 4).columns == 32 {
            #expect(!fusedNames.isDisjoint(with: cpu.timing.kernelSeconds.keys), "CPU profile kernels: \(cpu.timing.kernelSeconds.keys.sorted())")
        }
        let ref = try ReferenceTrainer().train(candidates: Self.candidates, spec: Self.spec, config: Self.config,
                                               train: TrainerFixture.data(rows: 29, seed: 4))
        for (i, (g, r)) in zip(gpu.candidates, ref.candidates).enumerated() {
            #expect(!g.diverged && g.history.count == Self.config.epochs)
            for (ge, re) in zip(g.history, r.history) {
                #expect(abs(ge.train.loss - re.train.loss) < 1e-4, "candidate \(i) epoch \(ge.epoch)")
            }
            for (gl, rl) in zip(g.weights.layers, r.weights.layers) {
                #expect(zip(gl.weight + gl.bias, rl.weight + rl.bias).allSatisfy { abs($0 - $1) < 1e-4 }, "candidate \(i) weights")
            }
        }
        for (i, (g, c)) in zip(gpu.candidates, cpu.candidates).enumerated() {
            #expect(g.weights == c.weights, "candidate \(i): the same bits under both profiles")
            #expect(g.history.map(\.train.loss) == c.history.map(\.train.loss), "candidate \(i) losses")
        }
    }

    @Test func cnnUnderTheGPUProfileMatchesTheReference() throws {
        let trainer = PopulationCNNTrainer(device: Self.device, activationSource: StandInActivationSource.source(for:))
        trainer.microBatchImages = 8
        trainer.profile = .gpu
        let data = CNNFixture.images(rows: 12, seed: 7)
        let config = TrainingConfig(epochs: 3, learningRate: 0.005, batchSize: 12, seed: 2, evaluateEveryEpoch: false)
        let cand = [CNNCandidate(activations: CNNFixture.smooth)]
        let gpu = try trainer.train(candidates: cand, architecture: CNNFixture.arch, config: config, train: data).candidates[0]
        let ref = try ReferenceCNNTrainer().train(candidates: cand, architecture: CNNFixture.arch, inputShape: CNNFixture.shape,
                                                  config: config, train: data, microBatchImages: 8)[0]
        for (g, r) in zip(gpu.history, ref.history) { #expect(abs(g.train.loss - r.train.loss) < 1e-4, "epoch \(g.epoch)") }
        for (gl, rl) in zip(gpu.weights.layers, ref.weights.layers) {
            #expect(zip(gl.weight + gl.bias, rl.weight + rl.bias).allSatisfy { abs($0 - $1) < 1e-4 }, "layer \(gl.index)")
        }
    }
}
