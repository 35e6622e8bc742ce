import Foundation

/// Which trainer's GEMMs a variant, a tuning run or a tuning cache entry is for: the MLP trainer's
/// (kernels/mlp_gemm.cl, mlp_gemm_staged.cl) or the CNN trainer's (the implicit-GEMM convolutions of
/// kernels/cnn_conv.cl and the Linear layers of cnn_linear.cl, staged in cnn_conv_staged.cl). One variant
/// sets both trainers' GEMMs alike; each network is tuned and cached on its own.
public enum GEMMNetwork: String, Sendable, CaseIterable, Codable {
    case mlp, cnn

    /// Most vectors per tile row its kernels hold (the CNN's keep one or two).
    public var maxVectors: Int { self == .mlp ? 4 : 2 }
}

/// The trainer's three population GEMMs (kernels/mlp_gemm.cl): the forward with the activation epilogue,
/// the data gradient with the derivative epilogue, and the weight gradient.
public enum PopulationGEMM: String, Sendable, CaseIterable, Codable {
    case forward, backwardData, backwardWeights

    /// The kernel that reads its operands straight from global memory.
    var unstagedKernel: String {
        switch self {
        case .forward: return "mlp_forward"
        case .backwardData: return "mlp_backward_data"
        case .backwardWeights: return "weight_gradients"
        }
    }
}

/// Work-group blocking through local memory (kernels/mlp_gemm_staged.cl, cnn_conv_staged.cl): work-groups of
/// up to `groupColumns` × `groupRows` work-items share slabs of `depth` inner-dimension steps of both operands
/// (for a convolution, the im2col block gathered on the fly).
public struct GEMMStaging: Sendable, Hashable, Codable {
    public var groupColumns: Int
    public var groupRows: Int
    public var depth: Int

    public init(groupColumns: Int, groupRows: Int, depth: Int) {
        self.groupColumns = groupColumns
        self.groupRows = groupRows
        self.depth = depth
    }
}

/// One setting of a trainer's GEMMs: the register tile (which also fixes the buffers' padding) and, for
/// GPUs, local-memory staging with its work-group shape. Every variant gives the same bits as every other
/// with the same tile (each output's fma sequence is fixed, see mlp_gemm_staged.cl and cnn_conv_staged.cl);
/// a different tile changes only the last bits of learnable activation parameters' gradients (`TileShape`).
///
/// Both population trainers take it the same way (`resolve`): under the GPU profile `gemm` (on
/// `PopulationTrainerBase`) when set, else `preferred(for:tuning:widths:network:)`: the winner
/// `afsearch bench gemm --tune` measured for that network on this device and driver (`GEMMTuningCache`), else
/// the vendor's entry of `knownGood(for:)` or its fallback; the unstaged kernels with `TileShape.choose`'s tile
/// where the device cannot run those. The CPU profile runs the unstaged kernels.
public struct GEMMVariant: Sendable, Hashable, Codable, CustomStringConvertible {
    public var tile: TileShape
    /// nil: the unstaged kernels, work-groups of the driver's choice.
    public var staging: GEMMStaging?

    public init(tile: TileShape, staging: GEMMStaging? = nil) {
        self.tile = tile
        self.staging = staging
    }

    public var description: String {
        let t = "\(tile.rows)×\(tile.columns) (float\(tile.vectorWidth)×\(tile.vectors))"
        guard let s = staging else { return t + " unstaged" }
        return t + " staged \(s.groupColumns)×\(s.groupRows) k\(s.depth)"
    }

    /// Options added to the trainer program's build (empty when unstaged: the program is unchanged).
    public var buildOptions: String {
        guard let s = staging else { return "" }
        return "-DMLP_STAGED -DMLP_WGX=\(s.groupColumns) -DMLP_WGY=\(s.groupRows) -DMLP_BK=\(s.depth)"
    }

    /// `base` (a profile's options) with this variant's.
    func buildOptions(after base: String) -> String {
        [base, buildOptions].filter { !$0.isEmpty }.joined(separator: " ")
    }

    public func kernelName(_ gemm: PopulationGEMM) -> String { kernelName(unstaged: gemm.unstagedKernel) }

    /// The kernel this variant runs in place of the unstaged kernel `name` (its staged form is `name_staged`,
    /// with the same arguments).
    public func kernelName(unstaged name: String) -> String { staging == nil ? name : name + "_staged" }

    /// Global and local sizes of a GEMM whose output is `columnTiles` × `rowTiles` register tiles for each
    /// of `candidates` candidates. Unstaged: exactly those, local size left to the caller (nil). Staged:
    /// work-groups of at most `groupColumns` × `groupRows` (fewer where the matrix has fewer tiles, so a
    /// 10-wide logit layer does not launch idle columns), the global size rounded up to whole groups.
    /// The local row count is a multiple of `rowQuantum`.
    public func launchShape(columnTiles: Int, rowTiles: Int, candidates: Int) -> (global: [Int], local: [Int]?) {
        guard let s = staging else { return ([columnTiles, rowTiles, candidates], nil) }
        let lx = max(1, min(s.groupColumns, columnTiles))
        let ly = max(rowQuantum, min(s.groupRows, rowTiles.roundedUp(toMultipleOf: rowQuantum)))
        return ([columnTiles.roundedUp(toMultipleOf: lx), rowTiles.roundedUp(toMultipleOf: ly), candidates], [lx, ly, 1])
    }

    /// Work-items along the rows a staged group takes in multiples of: the weight gradient loads its slab
    /// of the layer's input columns (the group's rows × TM of them, from column group × rows × TM) in whole
    /// vectors, so that span must be a multiple of the vector width (then no vector straddles a row's end; the
    /// convolution's weight gradient gathers its im2col columns in the same whole vectors).
    /// Tile rows and vector widths are powers of two.
    public var rowQuantum: Int { max(1, tile.vectorWidth / tile.rows) }

    /// Bytes of local memory one staged work-group of `network`'s kernels holds: both slabs, and for the CNN
    /// the slab pixels' coordinates of the convolution's weight gradient (cnn_conv_backward_weights_staged).
    public func localMemoryBytes(network: GEMMNetwork = .mlp) -> Int {
        guard let s = staging else { return 0 }
        return 4 * s.depth * (s.groupRows * tile.rows + s.groupColumns * tile.columns) + (network == .cnn ? 8 * s.depth : 0)
    }

    /// Why this variant cannot run `network`'s kernels on a device with these limits, or nil when it can.
    public func unsupportedReason(on hint: PeakHint, network: GEMMNetwork = .mlp) -> String? {
        if tile.vectors > network.maxVectors {
            return "tile \(tile.rows)x\(tile.vectorWidth)x\(tile.vectors): the \(network.rawValue.uppercased()) kernels hold at most "
                + "\(network.maxVectors) vectors per tile row"
        }
        guard let s = staging else { return nil }
        if s.groupColumns < 1 || s.groupRows < 1 || s.depth < 1 || s.depth % tile.vectorWidth != 0 {
            return "staging \(s.groupColumns)×\(s.groupRows) k\(s.depth): group sides ≥ 1, depth a multiple of the vector width \(tile.vectorWidth)"
        }
        if s.groupRows % rowQuantum != 0 {
            return "staging \(s.groupColumns)×\(s.groupRows): the group's rows × \(tile.rows) tile rows must be a multiple of the vector width \(tile.vectorWidth)"
        }
        if s.groupColumns * s.groupRows > hint.maxWorkGroupSize {
            return "work-group \(s.groupColumns)×\(s.groupRows) exceeds the device's \(hint.maxWorkGroupSize) work-items"
        }
        let bytes = localMemoryBytes(network: network)
        if UInt64(bytes) > hint.localMemoryBytes {
            return "\(bytes) bytes of local memory exceed the device's \(hint.localMemoryBytes)"
        }
        return nil
    }

    /// The unstaged kernels with the tile `TileShape.choose` gives the GPU profile for these widths: the
    /// trainer's GPU path before any tuning, and the reference every tuned variant is checked against.
    public static func untuned(for hint: PeakHint, widths: [Int], network: GEMMNetwork = .mlp) -> GEMMVariant {
        GEMMVariant(tile: TileShape.choose(for: hint, widths: widths, maxVectors: network.maxVectors))
    }

    /// Known-good settings per GPU vendor, nil for other vendors and for CPUs. Not measured yet (no GPU
    /// run has tuned them; bench/README.md, "Tuning the trainer's GEMMs"), reasoned from each vendor's
    /// hardware: NVIDIA, 256 work-items (8 warps) in 16 × 16 with 4 × 8 register tiles, a 64 × 128 block and
    /// 12 KiB of slabs, so several groups share a multiprocessor; AMD, 16 × 16 (four 64-wide wavefronts) with
    /// 4 × 4 tiles; Intel, 8 × 8 groups (sub-groups of 8–16) with 4 × 4 tiles and a shallower slab.
    public static func knownGood(for info: DeviceInfo) -> GEMMVariant? {
        guard info.kind == .gpu else { return nil }
        let vendor = info.vendor.lowercased()
        if vendor.contains("nvidia") {
            return GEMMVariant(tile: TileShape(rows: 4, vectorWidth: 4, vectors: 2),
                               staging: GEMMStaging(groupColumns: 16, groupRows: 16, depth: 16))
        }
        if vendor.contains("advanced micro devices") || vendor.contains("amd") {
            return GEMMVariant(tile: TileShape(rows: 4, vectorWidth: 4, vectors: 1),
                               staging: GEMMStaging(groupColumns: 16, groupRows: 16, depth: 16))
        }
        if vendor.contains("intel") {
            return GEMMVariant(tile: TileShape(rows: 4, vectorWidth: 4, vectors: 1),
                               staging: GEMMStaging(groupColumns: 8, groupRows: 8, depth: 8))
        }
        return nil
    }

    /// The table's last row, for any other device under the GPU profile (other GPU vendors, and PoCL under
    /// `AFSEARCH_PROFILE=gpu`, so that the exactness suites run the staged kernels there, the MLP's and the
    /// CNN's): 4 × 4 tiles in
    /// 8 × 8 groups with 8-deep slabs, 64 work-items and 2 KiB of local memory, which any OpenCL GPU allows.
    public static let fallback = GEMMVariant(tile: TileShape(rows: 4, vectorWidth: 4, vectors: 1),
                                             staging: GEMMStaging(groupColumns: 8, groupRows: 8, depth: 8))

    /// The GPU profile's variant of `network`'s GEMMs on `device`: the tuned winner in `tuning`, else
    /// `knownGood`, else `fallback`, else `untuned`; a stored or tabled variant the device (or the network's
    /// kernels) cannot run is skipped.
    public static func preferred(for device: ComputeDevice, tuning: GEMMTuningCache, widths: [Int],
                                 network: GEMMNetwork = .mlp) -> GEMMVariant {
        let hint = DeviceProfile.gpu.hint(for: device)
        for v in [tuning.winner(for: device.info, network: network), knownGood(for: device.info), fallback] {
            if let v, v.unsupportedReason(on: hint, network: network) == nil { return v }
        }
        return untuned(for: hint, widths: widths, network: network)
    }

    /// A trainer's profile, tile and variant (both trainers' `tuning`): `explicit` (the trainer's `gemm`) when
    /// set, else under the GPU profile `preferred`; the tile is `tile` when set, else the variant's, else
    /// `TileShape.choose`'s for the CPU profile. A preferred staging the tile cannot take is dropped; an
    /// explicit variant that cannot run is an error.
    static func resolve(explicit: GEMMVariant?, tile: TileShape?, profile: DeviceProfile, device: ComputeDevice,
                        tuning: GEMMTuningCache, widths: [Int], network: GEMMNetwork) throws -> GEMMVariant {
        let hint = profile.hint(for: device)
        let chosen = explicit ?? (profile == .gpu ? preferred(for: device, tuning: tuning, widths: widths, network: network) : nil)
        let t = tile ?? chosen?.tile ?? TileShape.choose(for: hint, widths: widths, maxVectors: network.maxVectors)
        var variant = GEMMVariant(tile: t, staging: chosen?.staging)
        if variant.staging != nil, let reason = variant.unsupportedReason(on: hint, network: network) {
            guard explicit == nil else { throw TrainerError.invalidConfig("GEMM variant \(variant): \(reason)") }
            variant.staging = nil
        }
        return variant
    }

    /// The sweep of `afsearch bench gemm --tune` for `network`: `untuned` first (the reference), then the
    /// vendor's entry, then register tiles of 4 × 4, 4 × 8 and 8 × 4 floats, each unstaged and staged in 8 × 8,
    /// 16 × 8 and 16 × 16 work-groups, without duplicates and without what the device (or the network's
    /// kernels) cannot run.
    public static func sweep(for device: ComputeDevice, widths: [Int], network: GEMMNetwork = .mlp) -> [GEMMVariant] {
        let hint = DeviceProfile.gpu.hint(for: device)
        var out = [untuned(for: hint, widths: widths, network: network)]
        if let v = knownGood(for: device.info) { out.append(v) }
        let tiles = [TileShape(rows: 4, vectorWidth: 4, vectors: 1), TileShape(rows: 4, vectorWidth: 4, vectors: 2),
                     TileShape(rows: 8, vectorWidth: 4, vectors: 1)]
        let stagings: [GEMMStaging?] = [nil, GEMMStaging(groupColumns: 8, groupRows: 8, depth: 8),
                                        GEMMStaging(groupColumns: 16, groupRows: 8, depth: 16),
                                        GEMMStaging(groupColumns: 16, groupRows: 16, depth: 16)]
        for t in tiles {
            for s in stagings {
                let v = GEMMVariant(tile: t, staging: s)
                if !out.contains(v) && v.unsupportedReason(on: hint, network: network) == nil { out.append(v) }
            }
        }
        return out
    }
}
