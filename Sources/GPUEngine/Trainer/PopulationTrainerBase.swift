import Foundation
import Kernels

/// What both population trainers (`PopulationTrainer` for MLPs, `PopulationCNNTrainer`) are set up with, and
/// the choices they make alike: the device profile and the chunk size that fits device memory.
public class PopulationTrainerBase: @unchecked Sendable {
    public let device: ComputeDevice
    /// Register tile of the GEMMs; chosen from the device unless given.
    public var tile: TileShape?
    /// The GEMMs' variant (tile and local-memory staging, `GEMMVariant`); nil: under the GPU profile
    /// `GEMMVariant.preferred` (the tuned winner for this trainer's network in `gemmTuning`, else the vendor
    /// table or its fallback), under the CPU profile the unstaged kernels. `tile`, when set, replaces the
    /// variant's tile (a preferred staging the tile cannot take is dropped; an explicit one is an error).
    public var gemm: GEMMVariant?
    /// Where the GPU profile looks for `afsearch bench gemm --tune`'s winner.
    public var gemmTuning = GEMMTuningCache.shared
    /// Whose choices the trainer makes (tile, fused row passes, work-group sizes, build options); nil:
    /// `$AFSEARCH_PROFILE`, else the device's own kind. `.gpu` on PoCL runs a GPU's path (`DeviceProfile`).
    public var profile: DeviceProfile?
    /// Device memory the trainer may use for one chunk; default 60 % of the device's global memory.
    public var memoryBudgetBytes: Int?
    /// Most candidates trained at once (the rest wait for the next chunk); nil = as many as fit.
    public var maxChunkSize: Int?
    /// Read every launch's profiling counters into `TrainingTiming.kernelSeconds` (costs a little time).
    public var profileKernels = false
    /// Fused compiled activations (default), or the activation interpreter for populations of new
    /// expressions (evolution): see `ActivationExecution`.
    public var activationExecution: ActivationExecution = .compiled
    let activationSource: PopulationProgram.ActivationSource
    let cache: ProgramCache

    /// Trains with the project's activation code generator (`ActivationCodegen`).
    public convenience init(device: ComputeDevice, cache: ProgramCache = .shared) {
        self.init(device: device, cache: cache, activationSource: { try ActivationCodegen.checkedSource(for: $0) })
    }

    /// `activationSource` generates the element-wise functions (`af_act`, `af_dact`, `af_dparam`) for a
    /// list of expressions (ids = positions), e.g. a stand-in for tests.
    public init(device: ComputeDevice, cache: ProgramCache = .shared,
                activationSource: @escaping @Sendable ([ActivationExpr]) throws -> String) {
        self.device = device
        self.cache = cache
        self.activationSource = activationSource
    }

    /// How many candidates one chunk holds (`PopulationChunking`); `needs` describes one candidate's bytes
    /// for the error when not even one fits, `advice` what to lower.
    func chunkSize(bytesPerCandidate: Int, largestBufferBytesPerCandidate: Int, population: Int,
                   needs: String, advice: String = "") throws -> Int {
        let budget = PopulationChunking.budget(memoryBudgetBytes, device: device)
        guard let size = PopulationChunking.size(
            budget: budget, device: device, bytesPerCandidate: bytesPerCandidate,
            largestBufferBytesPerCandidate: largestBufferBytesPerCandidate, maxChunkSize: maxChunkSize, population: population)
        else {
            throw TrainerError.doesNotFit("\(needs) (largest buffer \(largestBufferBytesPerCandidate)); budget \(budget) bytes, "
                + "largest allocation \(device.info.maxAllocationBytes) bytes on \(device.info.name)\(advice)")
        }
        return size
    }
}
