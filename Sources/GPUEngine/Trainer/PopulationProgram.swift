import Kernels

/// Turns a population's expressions into the one OpenCL program that trains it: the distinct element-wise
/// expressions become ids of the generated `af_act` / `af_dact` / `af_dparam`, layer-wise ones (softmax
/// family) and identity become the negative codes of mlp_common.cl, and the templates follow.
struct PopulationProgram {
    /// Distinct element-wise expressions; the position is the id the kernels switch on.
    let elementwise: [ActivationExpr]
    /// Per candidate, per slot: id ≥ 0, −1 identity, ≤ −2 layer-wise op.
    let activationIDs: [[Int32]]
    /// Per candidate, per slot: learnable parameter count.
    let parameterCounts: [[Int]]
    let kmax: Int
    let needsKeys: Bool
    let source: String

    /// The generated code for the element-wise expressions (`ActivationCodegen.source(for:)`).
    typealias ActivationSource = @Sendable ([ActivationExpr]) throws -> String

    static func layerwiseCode(_ op: LayerwiseOp) -> Int32 {
        switch op {
        case .softmax: return -2
        case .softmin: return -3
        case .logSoftmax: return -4
        case .gumbelSoftmax: return -5
        }
    }

    init(candidates: [Candidate], tile: TileShape, activationSource: ActivationSource) throws {
        var distinct: [ActivationExpr] = []
        var index: [ActivationExpr: Int32] = [:]
        var ids: [[Int32]] = [], counts: [[Int]] = []
        var stochastic = false
        for c in candidates {
            var row: [Int32] = [], crow: [Int] = []
            for e in c.activations {
                switch e {
                case .x:
                    row.append(-1); crow.append(0)
                case .layerwise(let op):
                    row.append(Self.layerwiseCode(op)); crow.append(0)
                default:
                    if let id = index[e] {
                        row.append(id)
                    } else {
                        let id = Int32(distinct.count)
                        index[e] = id
                        distinct.append(e)
                        row.append(id)
                        if e.isStochastic { stochastic = true }
                    }
                    crow.append(e.parameterCount)
                }
            }
            ids.append(row)
            counts.append(crow)
        }
        elementwise = distinct
        activationIDs = ids
        parameterCounts = counts
        kmax = counts.flatMap { $0 }.max() ?? 0
        needsKeys = stochastic
        var header = "// population MLP trainer: \(candidates.count) candidates, \(distinct.count) distinct element-wise expressions\n"
        header += "#define TM \(tile.rows)\n#define VW \(tile.vectorWidth)\n#define TNV \(tile.vectors)\n#define AF_KMAX \(kmax)\n"
        if stochastic { header += "#define AF_NEEDS_KEYS 1\n" }
        // The generator needs at least one expression to emit its functions; identity is harmless.
        let generated = try activationSource(distinct.isEmpty ? [.x] : distinct)
        source = [header, generated, KernelTemplates.mlp_common, KernelTemplates.mlp_gemm,
                  KernelTemplates.mlp_rows, KernelTemplates.adam_update].joined(separator: "\n")
    }
}
