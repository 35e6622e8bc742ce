import Foundation

/// The kind of device whose choices the MLP and CNN trainers make: every decision they take by device kind
/// asks this, never `DeviceInfo.kind`, so that one switch moves all of them together.
///
/// `.gpu` picks what a GPU gets: the 4-row × float4 GEMM tile (the vector width NVIDIA and AMD report is 1,
/// which the tile rounds up to 4), no CPU loop-vectorisation hints in the build options, per-layer launches
/// (no fused row passes, `RowPass` is ignored), the GEMMs staged through local memory as
/// `GEMMVariant.preferred` says (tuned winner, vendor table, fallback) and otherwise work-group sizes left to
/// the driver. `.cpu` picks the
/// tiles of the device's own vector width (8 × 32 or 4 × 64 in float16 on AVX-512), the hints, the fused row
/// passes where the population allows them and fixed work-group sizes for interpreted populations (PoCL
/// compiles a kernel once per work-group size). Chunking is the same rule under both (device memory).
///
/// Why: a GPU-only path is a path no test runs here. With `AFSEARCH_PROFILE=gpu` (or a trainer's
/// `profile = .gpu`) PoCL runs the exact kernels and launch shapes a GPU would, so the exactness tests
/// cover them; results must match the Double reference under either profile. It changes speed, not
/// correctness: the GPU tile's rounding of learnable-parameter gradients differs from the CPU tile's, the
/// rest is the same bits (`TrainerTileTests`).
///
/// Resolution: a trainer's `profile` when set, else `$AFSEARCH_PROFILE` (`gpu` or `cpu`; unset or empty:
/// the device's own), else the device's own kind (a CPU is `.cpu`, any other kind `.gpu`). Any other value
/// of the variable is an error naming it, not a silent fallback.
public enum DeviceProfile: String, Sendable, CaseIterable {
    case cpu, gpu

    public static let environmentVariable = "AFSEARCH_PROFILE"

    /// The device's own profile: CPUs `.cpu`, GPUs and accelerators `.gpu`.
    public init(of device: ComputeDevice) {
        self = device.info.kind == .cpu ? .cpu : .gpu
    }

    /// `explicit` (a trainer's `profile`), else the environment's `AFSEARCH_PROFILE`, else the device's own.
    public static func resolve(_ explicit: DeviceProfile?, device: ComputeDevice,
                               environment: [String: String] = ProcessInfo.processInfo.environment) throws -> DeviceProfile {
        if let explicit { return explicit }
        guard let value = environment[environmentVariable], !value.isEmpty else { return DeviceProfile(of: device) }
        guard let profile = DeviceProfile(rawValue: value) else {
            throw TrainerError.invalidConfig("\(environmentVariable)='\(value)': expected "
                + allCases.map(\.rawValue).joined(separator: " or ") + " (unset: the device's own kind)")
        }
        return profile
    }

    /// The device facts the tile choice (`TileShape.choose`) sees: the device's own under its own profile;
    /// under the other one, the kind of that profile, and for `.gpu` a preferred float vector width of 1
    /// (what GPUs report), so a CPU gets the GPU's 4 × float4 tile rather than a float16 one.
    public func hint(for device: ComputeDevice) -> PeakHint {
        var hint = device.peakHint
        guard self != DeviceProfile(of: device) else { return hint }
        switch self {
        case .gpu:
            hint.kind = .gpu
            hint.preferredFloatVectorWidth = 1
        case .cpu:
            hint.kind = .cpu
        }
        return hint
    }

    /// Whether a training step's row work may run as one fused launch (`RowPass`, kernels/mlp_fused.cl).
    var fusesRowPasses: Bool { self == .cpu }

    /// Whether launches that give no work-group size take one independent of the candidate count
    /// (`PopulationState.workGroup(for:kernel:)`): PoCL compiles a kernel once per work-group size, and its own
    /// choice follows the whole launch (an interpreted population's, a slot pool's narrowing launches, every
    /// test's shapes made new compiles), and it trained the CNN more slowly (the CNN bench 3356–3667 against
    /// 4514–4778 candidate-images/s with fixed sizes, `bench/results/ab-fixed-workgroups-20261207T1353Z.txt`).
    /// Otherwise the driver chooses.
    var fixesWorkGroups: Bool { self == .cpu }

    /// Build options of a trainer program: CPUs get the span loops' vectorisation hints
    /// (`PopulationProgram.spanHelpers`).
    var buildOptions: String { self == .cpu ? "-DMLP_CPU_LOOP_HINTS" : "" }
}
