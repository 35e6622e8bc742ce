import Kernels

/// How the trainer runs element-wise activations.
public enum ActivationExecution: String, Sendable, CaseIterable {
    /// Generated OpenCL functions fused into the GEMM epilogues: the fastest training, but every new set of
    /// expressions is a new program to build and JIT-compile (seconds on PoCL for tens of expressions).
    case compiled
    /// `ActivationTape` programs run by the interpreter kernels (`ActivationInterpreter`) of one program that
    /// is built once: no build per population, slower activations. For many short trainings of new
    /// expressions (evolution). Populations the interpreter cannot run (learnable parameters, very long
    /// expressions) are compiled instead.
    case interpreted
}

/// Turns a population's expressions into the one OpenCL program that trains it: the distinct element-wise
/// expressions become ids of the generated `af_act` / `af_dact` / `af_dparam`, layer-wise ones (softmax
/// family) and identity become the negative codes of mlp_common.cl, and the templates follow.
/// Interpreted: element-wise slots get the identity code for the GEMMs plus an offset into `tapes`, and the
/// source is the same for every population of a tile shape (so the program cache builds it once).
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
    /// Interpreted execution: the packed tapes, and per candidate, per slot the tape offset (−1: none).
    let tapes: PackedTapes?
    let tapeOffsets: [[Int32]]
    var execution: ActivationExecution { tapes == nil ? .compiled : .interpreted }

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

    /// `vocabulary` (compiled execution only): element-wise expressions that take the first ids, in this
    /// order, whether the population uses them or not, so that populations drawn from one menu share one
    /// program source (see `PopulationTrainer.vocabulary`).
    init(candidates: [Candidate], tile: TileShape, activationSource: ActivationSource,
         execution: ActivationExecution = .compiled, vocabulary: [ActivationExpr] = []) throws {
        var distinct: [ActivationExpr] = []
        var index: [ActivationExpr: Int32] = [:]
        var ids: [[Int32]] = [], counts: [[Int]] = []
        var stochastic = false
        var vocabularyKmax = 0
        if execution == .compiled {
            for e in vocabulary where !e.isLayerwise && e != .x && index[e] == nil {
                index[e] = Int32(distinct.count)
                distinct.append(e)
                if e.isStochastic { stochastic = true }
                vocabularyKmax = max(vocabularyKmax, e.parameterCount)
            }
        }
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
        parameterCounts = counts
        kmax = max(counts.flatMap { $0 }.max() ?? 0, vocabularyKmax)
        if execution == .interpreted, let packed = Self.pack(distinct) {
            tapes = packed.tapes
            tapeOffsets = ids.map { row in row.map { $0 >= 0 ? packed.offsets[Int($0)] : -1 } }
            activationIDs = ids.map { row in row.map { $0 >= 0 ? -1 : $0 } }
            needsKeys = false
            source = try Self.interpreterSource(tile: tile, activationSource: activationSource)
            return
        }
        tapes = nil
        tapeOffsets = ids.map { row in row.map { _ in -1 } }
        activationIDs = ids
        needsKeys = stochastic
        // Nothing about the candidates themselves (their number, their order) goes into the source: equal
        // expression lists must give equal programs.
        var header = "// population MLP trainer: \(distinct.count) distinct element-wise expressions\n"
        header += "#define TM \(tile.rows)\n#define VW \(tile.vectorWidth)\n#define TNV \(tile.vectors)\n#define AF_KMAX \(kmax)\n"
        if stochastic { header += "#define AF_NEEDS_KEYS 1\n" }
        // The generator needs at least one expression to emit its functions; identity is harmless.
        let exprs = distinct.isEmpty ? [ActivationExpr.x] : distinct
        let generated = try activationSource(exprs)
        source = [header, Self.fastMathPrologue, generated, Self.fastMathEpilogue,
                  Self.spanHelpers(count: exprs.count, generated: generated),
                  Self.slopeTable(distinct.indices.filter { distinct[$0].parameterCount == 0 && !distinct[$0].isStochastic },
                                  keyed: distinct.indices.filter { distinct[$0].isStochastic }),
                  KernelTemplates.mlp_common,
                  Self.keyedSpanHelpers(distinct.indices.filter { distinct[$0].isStochastic }, generated: generated),
                  KernelTemplates.mlp_gemm, KernelTemplates.mlp_gemm_staged, KernelTemplates.mlp_rows,
                  KernelTemplates.adam_update, KernelTemplates.mlp_fused].joined(separator: "\n")
    }

    /// A new candidate's row in this program (`PopulationPool` refills slots without building): its
    /// `activationIDs` and `parameterCounts` rows, and, interpreted, each slot's tape (nil: not interpreted).
    /// Nil when one of its expressions is not among a compiled program's, or one the interpreter cannot run.
    func slotRow(for activations: [ActivationExpr]) -> SlotRow? {
        var row = SlotRow()
        for e in activations {
            switch e {
            case .x: row.append(-1, 0, nil)
            case .layerwise(let op): row.append(Self.layerwiseCode(op), 0, nil)
            default:
                if tapes != nil {
                    guard let tape = try? ActivationTape(e) else { return nil }
                    row.append(-1, 0, tape)
                } else {
                    guard let id = elementwise.firstIndex(of: e), e.parameterCount <= kmax else { return nil }
                    row.append(Int32(id), e.parameterCount, nil)
                }
            }
        }
        return row
    }

    /// Why `slotRow(for:)` has no row for these activations, for a `TrainerError.invalidCandidate`.
    func outsideMessage(_ activations: [ActivationExpr]) -> String {
        let names = activations.map(\.description).joined(separator: ", ")
        return tapes != nil
            ? "an expression the activation interpreter cannot run (learnable parameters, or more than \(ActivationInterpreter.registers) registers): \(names)"
            : "an expression outside the pool's vocabulary (the trainer's vocabulary, or the pool's): \(names)"
    }

    /// One candidate's row of a program (`slotRow(for:)`).
    struct SlotRow {
        var ids: [Int32] = []
        var counts: [Int] = []
        /// Per slot, the tape the interpreter runs there (interpreted programs).
        var tapes: [ActivationTape?] = []
        mutating func append(_ id: Int32, _ count: Int, _ tape: ActivationTape?) {
            ids.append(id)
            counts.append(count)
            tapes.append(tape)
        }
    }

    /// Whether the interpreter runs every element-wise expression of `population` (`pack`, as `init` decides;
    /// else an interpreted population is compiled).
    static func interprets(_ population: [[ActivationExpr]]) -> Bool {
        pack(Array(Set(population.joined().filter { !$0.isLayerwise && $0 != .x }))) != nil
    }

    /// How a slot pool runs a fixed population so that its program is the one a chunk of the trainer builds
    /// for it (same source, so the program cache hits, and the same bits): interpreted where `execution` is
    /// and the interpreter runs every expression; else compiled from `vocabulary` (compiled execution only)
    /// and then the population's own expressions in order of appearance.
    static func poolExecution(for population: [[ActivationExpr]], execution: ActivationExecution,
                              vocabulary: [ActivationExpr]) -> (execution: ActivationExecution, vocabulary: [ActivationExpr]) {
        if execution == .interpreted && interprets(population) { return (.interpreted, []) }
        var words = execution == .interpreted ? [] : vocabulary
        var seen = Set(words)
        for e in population.joined() where seen.insert(e).inserted { words.append(e) }
        return (.compiled, words)
    }

    /// Tapes of all expressions, or nil when one of them cannot be interpreted.
    static func pack(_ exprs: [ActivationExpr]) -> (tapes: PackedTapes, offsets: [Int32])? {
        var packed = PackedTapes()
        var offsets: [Int32] = []
        for e in exprs {
            guard let tape = try? ActivationTape(e) else { return nil }
            offsets.append(packed.append(tape))
        }
        return (packed, offsets)
    }

    /// Columns one interpreter work-item takes: a power of two that divides every padded width (a multiple
    /// of the tile's columns), at most 16 so that the register file (registers × span floats, twice in the
    /// backward kernel) stays a few kilobytes.
    static func interpreterSpan(_ tile: TileShape) -> Int { min(tile.columns, 16) }

    /// The interpreted trainer's program: nothing in it depends on the population.
    static func interpreterSource(tile: TileShape, activationSource: ActivationSource) throws -> String {
        let header = "// population MLP trainer, interpreted activations\n"
            + "#define TM \(tile.rows)\n#define VW \(tile.vectorWidth)\n#define TNV \(tile.vectors)\n#define AF_KMAX 0\n"
            + "#define AFI_SPAN \(interpreterSpan(tile))\n"
        let generated = try activationSource([.x])
        return [header, fastMathPrologue, generated, ActivationInterpreter.primitiveFunctions, fastMathEpilogue,
                spanHelpers(count: 1, generated: generated), slopeTable([]), KernelTemplates.mlp_common, KernelTemplates.mlp_gemm,
                KernelTemplates.mlp_gemm_staged,
                KernelTemplates.mlp_rows, KernelTemplates.adam_update, ActivationInterpreter.kernels,
                KernelTemplates.mlp_fused].joined(separator: "\n")
    }

    /// The generated activation code sees `expm1`, `log1p`, `erfc`, `sinh`, `cosh`, `atan`, `log`, `log10`, `erf`,
    /// `sin`, `cos`, `tan`, `asin` and `acos` as the vectorisable forms of kernels/mlp_fastmath.cl (accuracy
    /// documented there), and digamma/trigamma take theirs through AF_FM_POLYGAMMA; the names are restored after
    /// it. Measured on PoCL, study-1 workload: see the commits that introduced them.
    static let fastMathPrologue = KernelTemplates.mlp_fastmath + "\n" + fastMathNames.map { name in
        "#pragma push_macro(\"\(name)\")\n#undef \(name)\n#define \(name)(x) af_fm_\(name == "log" ? "logf" : name)(x)\n"
    }.joined() + "#define AF_FM_POLYGAMMA 1\n\n"
    /// Restores the names as the compiler defined them: later templates (the loss, the softmax rows) call the
    /// library's `log`, which PoCL defines as a macro. A compiler without push/pop_macro ignores the pragma;
    /// its library functions are not macros, so the `#undef` alone restores them.
    static let fastMathEpilogue = fastMathNames.map { "#undef \($0)\n#pragma pop_macro(\"\($0)\")\n" }.joined()
        + "#undef AF_FM_POLYGAMMA\n"
    static let fastMathNames = ["expm1", "log1p", "erfc", "sinh", "cosh", "atan", "log", "log10", "erf", "sin", "cos", "tan", "asin", "acos"]

    /// `mlp_act_span` / `mlp_dact_span`: an activation (or its derivative) over a run of elements with the
    /// switch on the id hoisted out of the loop, so each case calls the generator's per-id function
    /// (`af_act_<id>`, `af_dact_<id>`) directly, inlines it and can vectorise the loop. Measured on PoCL
    /// (study-1 layer, 64 candidates): relu 3×, tanh/sigmoid/silu 3–4× faster than calling `af_act` per
    /// element. Falls back to the dispatchers when the generated code has no per-id functions.
    /// `mlp_slope_ok(id)`: whether training keeps act'(Z) instead of Z for expression `id` (mlp_forward's
    /// slopes): true for the expressions without learnable parameters (their gradients need Z) and without
    /// noise (RReLU's slope is drawn per pass). A property of the expression alone, never of the population.
    /// `mlp_keyed(id)`: whether expression `id` draws noise (RReLU), so that its elements need their own keys
    /// and take the per-element paths. The other expressions of a program with noise ignore the key and keep
    /// the span paths (they had run element by element whenever any expression of the program drew noise:
    /// a fifth of the speed for a population with one RReLU candidate, and every à la carte population over
    /// the paper's menu).
    static func slopeTable(_ ids: [Int], keyed: [Int] = []) -> String {
        func predicate(_ name: String, _ ids: [Int]) -> String {
            let cases = ids.map { "case \($0): " }.joined()
            return "inline bool \(name)(int id) {\n    switch (id) { \(cases)\(ids.isEmpty ? "" : "return true; ")default: return false; }\n}\n"
        }
        return predicate("mlp_slope_ok", ids) + predicate("mlp_keyed", keyed)
    }

    /// `mlp_act_slope_span` writes act(Z) over Z and act'(Z) into a second array in one loop, where the
    /// compiler shares the two functions' common subexpressions (mlp_forward's slopes).
    ///
    /// On CPUs (`DeviceProfile.buildOptions`) each per-id loop asks clang for 8-wide vectors interleaved 4 times: left to
    /// itself, PoCL's compiler vectorised them 8 wide without interleaving, and a long function (GELU's
    /// erfc, two exps and a division per element) then ran one dependency chain at a time. Measured with
    /// `afsearch bench train --peak none` on the 2-core EPYC, alternating: study 1's eight functions 1567 →
    /// 1637–1691 candidate-epochs/s, GELU alone 1155 → 1381–1428. Each element's arithmetic is unchanged.
    /// `MLP_SPAN_BODY` is the elements one vector body of those loops covers (8 × 4; 1 elsewhere): a span shorter
    /// than it runs in the scalar remainder, so `mlp_forward_epilogue` pads a logits row's span to it.
    static func spanHelpers(count: Int, generated: String) -> String {
        let acts = definedIDs("af_act_", in: generated), dacts = definedIDs("af_dact_", in: generated)
        let perID = (0..<count).allSatisfy { acts.contains($0) && dacts.contains($0) }
        let hints = "#ifdef MLP_CPU_LOOP_HINTS\n#define MLP_SPAN_LOOP _Pragma(\"clang loop vectorize_width(8) interleave_count(4)\")\n"
            + "#define MLP_SPAN_BODY 32\n#else\n#define MLP_SPAN_LOOP\n#define MLP_SPAN_BODY 1\n#endif\n"
        let ids = perID ? Array(0..<count) : []
        let (act, dact) = actAndDactSpans(name: "span", keyParameters: "uint key", key: "key", ids: ids)
        let slope = idSwitch("mlp_act_slope_span(int id, __global float* restrict p, __global float* restrict s, int n, __global const float* prm, uint key)",
                             ids: ids) { f in "for (int j = 0; j < n; j++) { const float z = p[j]; p[j] = \(f("act"))z, prm, key); s[j] = \(f("dact"))z, prm, key); }" }
        // mlp_dparam_span(id, k, t, g, z, n, prm, key): t[j] = g[j] * d act / d (parameter k) at z[j] into a private
        // array, so that the backward's parameter partials (mlp_backward_epilogue) are a vector loop and a sum in
        // MLP_ROW_REDUCE's order, not a dispatcher call per element (PReLU's training had cost 20 times ReLU's,
        // `bench activations`).
        let dparam = idSwitch("mlp_dparam_span(int id, int k, float* restrict t, __global const float* restrict g, __global const float* restrict z, int n, __global const float* prm, uint key)",
                              ids: ids) { f in "for (int j = 0; j < n; j++) t[j] = g[j] * \(f("dparam"))k, z[j], prm, key);" }
        return hints + act + slope + dact + dparam
    }

    /// `inline void <signature>` switching on `id`: each of `ids` runs `loop` hinted (MLP_SPAN_LOOP) over the
    /// generator's per-id functions, any other id the same loop over the dispatchers, element by element. `loop`
    /// is given the call prefix of a function family ("act" → `af_act_3(` for id 3, `af_act(id, ` otherwise).
    private static func idSwitch(_ signature: String, ids: [Int], loop: (_ call: (String) -> String) -> String) -> String {
        var out = "inline void \(signature) {\n    switch (id) {\n"
        for i in ids { out += "    case \(i): MLP_SPAN_LOOP " + loop { "af_\($0)_\(i)(" } + " break;\n" }
        return out + "    default: " + loop { "af_\($0)(id, " } + " break;\n    }\n}\n"
    }

    /// `mlp_act_keyed_span` / `mlp_dact_keyed_span`: a noisy expression (RReLU) over one row's run of elements,
    /// each keyed by its column from the row's hash (`af_row_hash`, `af_key_in_row`: the keys of
    /// `af_element_key`), so its training passes vectorise as the other expressions' spans do: element by
    /// element through the dispatchers, an RReLU layer had cost about three times another one. Defines
    /// `MLP_KEYED_SPANS`; empty for a program without noise. Placed after mlp_common.cl, which holds the hashes.
    static func keyedSpanHelpers(_ keyed: [Int], generated: String) -> String {
        guard !keyed.isEmpty else { return "" }
        let acts = definedIDs("af_act_", in: generated), dacts = definedIDs("af_dact_", in: generated)
        let (act, dact) = actAndDactSpans(name: "keyed_span", keyParameters: "uint h, int col0", key: "af_key_in_row(h, col0 + j)",
                                          ids: keyed.filter { acts.contains($0) && dacts.contains($0) })
        return "#define MLP_KEYED_SPANS 1\n" + act + dact
    }

    /// `mlp_act_<name>` (act over p in place) and `mlp_dact_<name>` (g times act'(z)), switching on the id: each of
    /// `ids` a hinted loop over the generator's per-id function, any other id the dispatchers element by element;
    /// `key` is an element's noise key, from `keyParameters`. The plain and the keyed spans differ in the key only.
    private static func actAndDactSpans(name: String, keyParameters: String, key: String, ids: [Int]) -> (act: String, dact: String) {
        let act = idSwitch("mlp_act_\(name)(int id, __global float* p, int n, __global const float* prm, \(keyParameters))", ids: ids) { f in
            "for (int j = 0; j < n; j++) p[j] = \(f("act"))p[j], prm, \(key));"
        }
        let dact = idSwitch("mlp_dact_\(name)(int id, __global float* restrict g, __global const float* restrict z, int n, __global const float* prm, \(keyParameters))",
                            ids: ids) { f in "for (int j = 0; j < n; j++) g[j] = g[j] * \(f("dact"))z[j], prm, \(key));" }
        return (act, dact)
    }

    /// The ids n for which `source` defines `float <prefix>n(`, in one pass (Foundation's `contains` per id
    /// cost a pool start a search of the whole generated source for each of the menu's ids, twice).
    static func definedIDs(_ prefix: String, in source: String) -> Set<Int> {
        var ids = Set<Int>()
        for r in source.ranges(of: "float " + prefix) {
            let rest = source[r.upperBound...]
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            if let id = Int(digits), rest.dropFirst(digits.count).first == "(" { ids.insert(id) }
        }
        return ids
    }
}
