import Foundation

// The one place a network's shape is described, read by both population trainers.
//
//     let cnn = try NetworkArchitecture.named("cnn")          // study 2's CNN
//     let custom = try NetworkArchitecture(parsing: "conv3x3:32,pool2,conv3x3:64,pool2,flatten,dropout:0.5,fc:1000,fc:10")
//     let mlp = try NetworkArchitecture.named("fcn").mlpSpec(inputCount: 784)   // → MLPSpec for the MLP trainer
//
// Activation slots: every conv and every fc layer but the last is followed by the activation of a slot.
// Without `@N` suffixes each activated layer gets the next new slot; with them (`fc:32@1`) several layers
// share a slot (study 2's input/hidden/output stages). A suffix on the last fc activates the logits too.

/// One layer of an architecture.
public enum ArchitectureLayer: Sendable, Equatable, Hashable {
    /// 2-D convolution, stride 1, zero padding `padding` on every side; `slot` = its activation.
    case conv(kernelHeight: Int, kernelWidth: Int, outChannels: Int, padding: Int, slot: Int?)
    /// Max-pooling with a `size`×`size` window and stride `size` (PyTorch's floor mode).
    case maxPool(size: Int)
    /// Reshape (channels, height, width) into one feature vector in PyTorch's order c·H·W + y·W + x.
    case flatten
    /// Zeroes each element with probability `rate` in training and scales the rest by 1/(1−rate).
    case dropout(rate: Double)
    /// Linear layer; `slot` nil means no activation (the logits).
    case linear(outputs: Int, slot: Int?)

    public var slot: Int? {
        switch self {
        case .conv(_, _, _, _, let s), .linear(_, let s): return s
        default: return nil
        }
    }
}

public struct ArchitectureError: Error, CustomStringConvertible, Equatable {
    /// 1-based column of the offending token in the spec string (0 when not from a string).
    public var column: Int
    public var token: String
    public var problem: String
    public var description: String {
        column > 0 ? "architecture spec, column \(column) ('\(token)'): \(problem)" : "architecture: \(problem)"
    }
}

public struct NetworkArchitecture: Sendable, Equatable, Hashable {
    public let layers: [ArchitectureLayer]

    /// Study 2's FCN: 784→32 (input AF), five 32→32 (hidden AF), 32→32 (output AF), 32→10 logits.
    public static let study2FCN = "fc:32@0,fc:32@1,fc:32@1,fc:32@1,fc:32@1,fc:32@1,fc:32@2,fc:10"
    /// Study 2's CNN: conv 3×3 →32 + AF1, pool 2, conv 3×3 →64 + AF2, pool 2, flatten, dropout 0.5,
    /// fc →1000 + AF3, fc →10 logits.
    public static let study2CNN = "conv3x3:32,pool2,conv3x3:64,pool2,flatten,dropout:0.5,fc:1000,fc:10"

    /// `fcn`, `cnn` (study 2's networks) or a spec string.
    public static func named(_ nameOrSpec: String) throws -> NetworkArchitecture {
        switch nameOrSpec.lowercased() {
        case "fcn": return try NetworkArchitecture(parsing: study2FCN)
        case "cnn": return try NetworkArchitecture(parsing: study2CNN)
        default: return try NetworkArchitecture(parsing: nameOrSpec)
        }
    }

    public init(layers: [ArchitectureLayer]) throws {
        try Self.validate(layers, columns: nil)
        self.layers = layers
    }

    /// Parses `token,token,…`: `convKxK:C` / `convK:C` (optional `:pN` padding, `@S` slot), `pool2` /
    /// `maxpool2`, `flatten`, `dropout:R`, `fc:N` (optional `@S`).
    public init(parsing spec: String) throws {
        var layers: [ArchitectureLayer] = []
        var columns: [(Int, String)] = []
        var column = 1
        let tokens = spec.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        var explicit: [Bool] = []
        for raw in tokens {
            let token = raw.trimmingCharacters(in: .whitespaces)
            let lead = raw.prefix(while: { $0 == " " }).count
            let at = column + lead
            func fail(_ problem: String) -> ArchitectureError { ArchitectureError(column: at, token: token, problem: problem) }
            guard !token.isEmpty else { throw fail("empty layer (two commas in a row, or a trailing comma)") }
            var body = token, slot: Int? = nil
            if let atSign = token.firstIndex(of: "@") {
                body = String(token[..<atSign])
                let s = token[token.index(after: atSign)...]
                guard let v = Int(s), v >= 0 else { throw fail("slot after '@' must be a whole number ≥ 0, got '\(s)'") }
                slot = v
            }
            let parts = body.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            let head = parts[0].lowercased()
            func number(_ i: Int, _ what: String) throws -> Int {
                guard parts.count > i, let v = Int(parts[i]), v >= 1 else {
                    throw fail("expected \(what) (a whole number ≥ 1) after '\(parts[0]):'")
                }
                return v
            }
            if head.hasPrefix("conv") {
                let size = head.dropFirst(4)
                let dims = size.split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
                guard (dims.count == 1 || dims.count == 2), dims.allSatisfy({ ($0 ?? 0) >= 1 }) else {
                    throw fail("a convolution is convKxK:C or convK:C (e.g. conv3x3:32), got '\(parts[0])'")
                }
                let kh = dims[0]!, kw = dims.count == 2 ? dims[1]! : kh
                let channels = try number(1, "the output channel count")
                var padding = 0
                if parts.count > 2 {
                    guard parts.count == 3, parts[2].hasPrefix("p"), let p = Int(parts[2].dropFirst()), p >= 0 else {
                        throw fail("the optional third field of a convolution is the padding pN (e.g. p1), got '\(parts.dropFirst(2).joined(separator: ":"))'")
                    }
                    padding = p
                }
                layers.append(.conv(kernelHeight: kh, kernelWidth: kw, outChannels: channels, padding: padding, slot: slot))
                explicit.append(slot != nil)
            } else if head == "pool2" || head == "maxpool2" || head.hasPrefix("pool") || head.hasPrefix("maxpool") {
                guard slot == nil else { throw fail("pooling has no activation slot") }
                let n = Int(head.drop(while: { $0.isLetter }))
                guard n == 2, parts.count == 1 else { throw fail("only 2×2 max-pooling (pool2) is supported") }
                layers.append(.maxPool(size: 2))
                explicit.append(false)
            } else if head == "flatten" {
                guard slot == nil, parts.count == 1 else { throw fail("flatten takes no arguments") }
                layers.append(.flatten)
                explicit.append(false)
            } else if head == "dropout" {
                guard slot == nil, parts.count == 2, let r = Double(parts[1]), r >= 0, r < 1 else {
                    throw fail("expected dropout:R with a rate 0 ≤ R < 1 (e.g. dropout:0.5)")
                }
                layers.append(.dropout(rate: r))
                explicit.append(false)
            } else if head == "fc" || head == "linear" {
                guard parts.count == 2 else { throw fail("expected fc:N (the output count, e.g. fc:1000)") }
                layers.append(.linear(outputs: try number(1, "the output count"), slot: slot))
                explicit.append(slot != nil)
            } else {
                throw fail("unknown layer '\(parts[0])'; expected convKxK:C, pool2, flatten, dropout:R or fc:N")
            }
            columns.append((at, token))
            column += raw.count + 1
        }
        // Without any explicit slot, number the activated layers (all conv, all fc but the last) in order.
        if !explicit.contains(true) {
            var next = 0
            let lastFC = layers.lastIndex { if case .linear = $0 { return true } else { return false } }
            for i in layers.indices {
                switch layers[i] {
                case .conv(let kh, let kw, let c, let p, _):
                    layers[i] = .conv(kernelHeight: kh, kernelWidth: kw, outChannels: c, padding: p, slot: next); next += 1
                case .linear(let n, _) where i != lastFC:
                    layers[i] = .linear(outputs: n, slot: next); next += 1
                default: break
                }
            }
        }
        try Self.validate(layers, columns: columns)
        self.layers = layers
    }

    static func validate(_ layers: [ArchitectureLayer], columns: [(Int, String)]?) throws {
        func fail(_ i: Int?, _ problem: String) -> ArchitectureError {
            if let i, let columns, i < columns.count { return ArchitectureError(column: columns[i].0, token: columns[i].1, problem: problem) }
            return ArchitectureError(column: 0, token: "", problem: problem)
        }
        guard let last = layers.last else { throw fail(nil, "no layers") }
        guard case .linear = last else { throw fail(layers.count - 1, "the last layer must be fc:N (the class logits)") }
        var flat = false
        for (i, l) in layers.enumerated() {
            switch l {
            case .conv, .maxPool:
                if flat { throw fail(i, "convolution and pooling must come before flatten and the fc layers") }
            case .flatten:
                if flat { throw fail(i, "the network is already flat here") }
                flat = true
            case .linear:
                flat = true
            case .dropout: break
            }
        }
        let slots = layers.compactMap(\.slot)
        let used = Set(slots)
        if let gap = (0..<used.count).first(where: { !used.contains($0) }) {
            throw fail(nil, "slots must be numbered 0..<n without gaps; slot \(gap) is unused (slots used: \(slots))")
        }
        if columns != nil, layers.contains(where: { l in
            if case .conv(_, _, _, _, nil) = l { return true }
            if case .linear(_, nil) = l, l != last { return true }
            return false
        }) {
            throw fail(nil, "when some layers name their slot with @N, every conv and every fc but the last must")
        }
    }

    /// Number of activation slots (one expression per slot per candidate).
    public var slotCount: Int { (layers.compactMap(\.slot).max() ?? -1) + 1 }
    public var hasConvolutions: Bool { layers.contains { if case .conv = $0 { return true } else { return false } } }
    public var classCount: Int { if case .linear(let n, _) = layers.last! { return n } else { return 0 } }

    /// The spec string this architecture parses from (slots always explicit).
    public var specString: String {
        layers.map { l -> String in
            switch l {
            case .conv(let kh, let kw, let c, let p, let s):
                return "conv\(kh)x\(kw):\(c)" + (p > 0 ? ":p\(p)" : "") + (s.map { "@\($0)" } ?? "")
            case .maxPool(let n): return "pool\(n)"
            case .flatten: return "flatten"
            case .dropout(let r): return "dropout:\(r)"
            case .linear(let n, let s): return "fc:\(n)" + (s.map { "@\($0)" } ?? "")
            }
        }.joined(separator: ",")
    }

    /// The MLP trainer's spec for an fc-only architecture (flatten allowed first) on `inputCount` features.
    public func mlpSpec(inputCount: Int) throws -> MLPSpec {
        var widths = [inputCount], slots: [Int] = []
        var lastActivated = false
        for (i, l) in layers.enumerated() {
            switch l {
            case .linear(let n, let s):
                widths.append(n)
                if let s { slots.append(s) }
                if i == layers.count - 1 { lastActivated = s != nil }
            case .flatten where i == 0: continue
            default:
                throw ArchitectureError(column: 0, token: "", problem: "the MLP trainer takes fc layers only; '\(specString)' needs the CNN trainer")
            }
        }
        return try MLPSpec(widths: widths, slotOfLayer: slots, lastLayerActivation: lastActivated)
    }
}
