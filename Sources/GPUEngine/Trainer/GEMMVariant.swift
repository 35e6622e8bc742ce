import Foundation

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

/// Work-group blocking through local memory (kernels/mlp_gemm_staged.cl): work-groups of up to
/// `groupColumns` × `groupRows` work-items share slabs of `depth` inner-dimension steps of both operands.
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

/// One setting of the trainer's GEMMs: the register tile (which also fixes the buffers' padding) and, for
/// GPUs, local-memory staging with its work-group shape. Every variant gives the same bits as every other
/// with the same tile (each output's fma sequence is fixed, see mlp_gemm_staged.cl); a different tile
/// changes only the last bits of learnable activation parameters' gradients (`TileShape`).
///
/// Where the GPU profile takes it from (`PopulationTrainer.gemm`, else `preferred(for:tuning:widths:)`): the
/// winner `afsearch bench gemm --tune` measured on this device and driver (`GEMMTuningCache`), else the
/// vendor's entry of `knownGood(for:)` or its fallback; the unstaged kernels with `TileShape.choose`'s tile
/// where the device cannot run those.
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

    public func kernelName(_ gemm: PopulationGEMM) -> String {
        staging == nil ? gemm.unstagedKernel : gemm.unstagedKernel + "_staged"
    }

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
    /// vectors, so that span must be a multiple of the vector width (then no vector straddles a row's end).
    /// Tile rows and vector widths are powers of two.
    public var rowQuantum: Int { max(1, tile.vectorWidth / tile.rows) }

    /// Bytes of local memory one staged work-group holds (both slabs).
    public var localMemoryBytes: Int {
        guard let s = staging else { return 0 }
        return 4 * s.depth * (s.groupRows * tile.rows + s.groupColumns * tile.columns)
    }

    /// Why this variant cannot run on a device with these limits, or nil when it can.
    public func unsupportedReason(on hint: PeakHint) -> String? {
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
        if UInt64(localMemoryBytes) > hint.localMemoryBytes {
            return "\(localMemoryBytes) bytes of local memory exceed the device's \(hint.localMemoryBytes)"
        }
        return nil
    }

    /// The unstaged kernels with the tile `TileShape.choose` gives the GPU profile for these widths: the
    /// trainer's GPU path before any tuning, and the reference every tuned variant is checked against.
    public static func untuned(for hint: PeakHint, widths: [Int]) -> GEMMVariant {
        GEMMVariant(tile: TileShape.choose(for: hint, widths: widths, maxVectors: 4))
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
    /// `AFSEARCH_PROFILE=gpu`, so that the exactness suites run the staged kernels there): 4 × 4 tiles in
    /// 8 × 8 groups with 8-deep slabs, 64 work-items and 2 KiB of local memory, which any OpenCL GPU allows.
    public static let fallback = GEMMVariant(tile: TileShape(rows: 4, vectorWidth: 4, vectors: 1),
                                             staging: GEMMStaging(groupColumns: 8, groupRows: 8, depth: 8))

    /// The GPU profile's variant on `device`: the tuned winner in `tuning`, else `knownGood`, else
    /// `fallback`, else `untuned`; a stored or tabled variant the device cannot run is skipped.
    public static func preferred(for device: ComputeDevice, tuning: GEMMTuningCache, widths: [Int]) -> GEMMVariant {
        let hint = DeviceProfile.gpu.hint(for: device)
        for v in [tuning.winner(for: device.info), knownGood(for: device.info), fallback] {
            if let v, v.unsupportedReason(on: hint) == nil { return v }
        }
        return untuned(for: hint, widths: widths)
    }

    /// The sweep of `afsearch bench gemm --tune`: `untuned` first (the reference), then the vendor's entry,
    /// then register tiles of 4 × 4, 4 × 8 and 8 × 4 floats, each unstaged and staged in 8 × 8, 16 × 8 and
    /// 16 × 16 work-groups, without duplicates and without what the device cannot run.
    public static func sweep(for device: ComputeDevice, widths: [Int]) -> [GEMMVariant] {
        let hint = DeviceProfile.gpu.hint(for: device)
        var out = [untuned(for: hint, widths: widths)]
        if let v = knownGood(for: device.info) { out.append(v) }
        let tiles = [TileShape(rows: 4, vectorWidth: 4, vectors: 1), TileShape(rows: 4, vectorWidth: 4, vectors: 2),
                     TileShape(rows: 8, vectorWidth: 4, vectors: 1)]
        let stagings: [GEMMStaging?] = [nil, GEMMStaging(groupColumns: 8, groupRows: 8, depth: 8),
                                        GEMMStaging(groupColumns: 16, groupRows: 8, depth: 16),
                                        GEMMStaging(groupColumns: 16, groupRows: 16, depth: 16)]
        for t in tiles {
            for s in stagings {
                let v = GEMMVariant(tile: t, staging: s)
                if !out.contains(v) && v.unsupportedReason(on: hint) == nil { out.append(v) }
            }
        }
        return out
    }
}
