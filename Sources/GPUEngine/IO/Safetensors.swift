import Foundation

/// Element types of the safetensors format that afsearch reads. Everything is converted to `Float` on
/// read; files are always written as `F32`.
public enum SafetensorsDType: String, Sendable, CaseIterable {
    case f32 = "F32"
    case f64 = "F64"
    case f16 = "F16"
    case bf16 = "BF16"

    public var byteCount: Int {
        switch self {
        case .f32: 4
        case .f64: 8
        case .f16, .bf16: 2
        }
    }
}

/// One named tensor, held as `Float` in row-major (C) order, which is also PyTorch's storage order.
public struct SafetensorsTensor: Sendable, Equatable {
    public var shape: [Int]
    public var values: [Float]
    /// The type the tensor had in the file it was read from (`.f32` for tensors made in memory).
    public var storedDType: SafetensorsDType

    public init(shape: [Int], values: [Float], storedDType: SafetensorsDType = .f32) {
        precondition(shape.allSatisfy { $0 >= 0 }, "negative dimension in \(shape)")
        precondition(shape.reduce(1, *) == values.count, "shape \(shape) needs \(shape.reduce(1, *)) values, got \(values.count)")
        self.shape = shape
        self.values = values
        self.storedDType = storedDType
    }

    public var elementCount: Int { values.count }
}

public enum SafetensorsError: Error, CustomStringConvertible, LocalizedError, Equatable {
    case truncated(String)
    case badHeader(String)
    case unsupportedDType(tensor: String, dtype: String)
    case badTensor(tensor: String, problem: String)
    case missingTensor(String, file: String)
    case io(path: String, problem: String)

    public var description: String {
        switch self {
        case .truncated(let what): "safetensors: file is truncated: \(what)"
        case .badHeader(let what): "safetensors: malformed header: \(what)"
        case .unsupportedDType(let t, let d):
            "safetensors: tensor '\(t)' has dtype \(d); expected one of \(SafetensorsDType.allCases.map(\.rawValue).joined(separator: ", "))"
        case .badTensor(let t, let p): "safetensors: tensor '\(t)': \(p)"
        case .missingTensor(let t, let f): "safetensors: \(f) has no tensor named '\(t)'"
        case .io(let path, let p): "safetensors file \(path): \(p)"
        }
    }

    /// Without the "safetensors: " prefix, for a message that already names the file.
    var detail: String {
        let text = description
        return text.hasPrefix("safetensors: ") ? String(text.dropFirst("safetensors: ".count)) : text
    }

    public var errorDescription: String? { description }
}

/// A safetensors file: an 8-byte little-endian header length N, N bytes of JSON mapping each tensor name to
/// `{"dtype", "shape", "data_offsets": [begin, end)}` (offsets relative to the data section) plus an optional
/// string-to-string `__metadata__`, then the raw little-endian tensor bytes.
///
/// The reader is strict the way the reference implementation is: offsets must tile the data section with no
/// gap or overlap, and each tensor's byte length must equal its element count times its dtype size. A file
/// that passes is therefore unambiguous; one that does not is rejected with the tensor named.
public struct SafetensorsFile: Sendable, Equatable {
    public var tensors: [String: SafetensorsTensor]
    public var metadata: [String: String]

    public init(tensors: [String: SafetensorsTensor] = [:], metadata: [String: String] = [:]) {
        self.tensors = tensors
        self.metadata = metadata
    }

    /// Largest header accepted (the reference implementation's limit is 100 MB).
    static let maxHeaderBytes: UInt64 = 100_000_000

    // MARK: reading

    public init(contentsOf url: URL) throws {
        let data: Data
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) else {
            throw SafetensorsError.io(path: url.path, problem: "no such file")
        }
        guard !isDirectory.boolValue else { throw SafetensorsError.io(path: url.path, problem: "is a folder; expected a .safetensors file") }
        do { data = try Data(contentsOf: url) } catch {
            throw SafetensorsError.io(path: url.path, problem: "cannot read (\(Self.reason(error)))")
        }
        do { try self.init(bytes: data) } catch let e as SafetensorsError {
            switch e {
            case .io: throw e
            default: throw SafetensorsError.io(path: url.path, problem: e.detail)
            }
        }
    }

    public init(bytes data: Data) throws {
        let bytes = [UInt8](data)
        guard bytes.count >= 8 else { throw SafetensorsError.truncated("\(bytes.count) bytes, need at least 8 for the header length") }
        var headerLength: UInt64 = 0
        for i in 0..<8 { headerLength |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard headerLength <= Self.maxHeaderBytes else { throw SafetensorsError.badHeader("header length \(headerLength) exceeds \(Self.maxHeaderBytes)") }
        guard UInt64(bytes.count) >= 8 + headerLength else {
            throw SafetensorsError.truncated("header says \(headerLength) bytes, only \(bytes.count - 8) follow")
        }
        let headerEnd = 8 + Int(headerLength)
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(bytes[8..<headerEnd]), options: [])
        } catch {
            throw SafetensorsError.badHeader("not valid JSON (\(error.localizedDescription))")
        }
        guard let header = json as? [String: Any] else { throw SafetensorsError.badHeader("top level is not a JSON object") }

        var metadata: [String: String] = [:]
        if let meta = header["__metadata__"] {
            guard let dict = meta as? [String: Any] else { throw SafetensorsError.badHeader("__metadata__ is not an object") }
            for (k, v) in dict {
                guard let s = v as? String else { throw SafetensorsError.badHeader("__metadata__['\(k)'] is not a string") }
                metadata[k] = s
            }
        }

        let dataSectionCount = bytes.count - headerEnd
        var spans: [(name: String, begin: Int, end: Int)] = []
        var tensors: [String: SafetensorsTensor] = [:]
        for (name, entry) in header where name != "__metadata__" {
            guard let info = entry as? [String: Any] else { throw SafetensorsError.badTensor(tensor: name, problem: "entry is not an object") }
            guard let dtypeName = info["dtype"] as? String else { throw SafetensorsError.badTensor(tensor: name, problem: "missing dtype") }
            guard let dtype = SafetensorsDType(rawValue: dtypeName) else { throw SafetensorsError.unsupportedDType(tensor: name, dtype: dtypeName) }
            guard let shape = Self.intArray(info["shape"]), shape.allSatisfy({ $0 >= 0 }) else {
                throw SafetensorsError.badTensor(tensor: name, problem: "shape must be a list of non-negative integers")
            }
            guard let offsets = Self.intArray(info["data_offsets"]), offsets.count == 2, offsets[0] >= 0, offsets[0] <= offsets[1] else {
                throw SafetensorsError.badTensor(tensor: name, problem: "data_offsets must be [begin, end] with 0 <= begin <= end")
            }
            let count = shape.reduce(1, *)
            guard offsets[1] - offsets[0] == count * dtype.byteCount else {
                throw SafetensorsError.badTensor(tensor: name, problem: "shape \(shape) of \(dtypeName) needs \(count * dtype.byteCount) bytes, data_offsets span \(offsets[1] - offsets[0])")
            }
            guard offsets[1] <= dataSectionCount else {
                throw SafetensorsError.truncated("tensor '\(name)' ends at byte \(offsets[1]) of a \(dataSectionCount)-byte data section")
            }
            spans.append((name, offsets[0], offsets[1]))
            let values = Self.decode(bytes, from: headerEnd + offsets[0], count: count, dtype: dtype)
            tensors[name] = SafetensorsTensor(shape: shape, values: values, storedDType: dtype)
        }
        spans.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        var cursor = 0
        for span in spans {
            guard span.begin == cursor else {
                throw SafetensorsError.badTensor(tensor: span.name, problem: span.begin < cursor ? "data overlaps the previous tensor" : "gap of \(span.begin - cursor) bytes before its data")
            }
            cursor = span.end
        }
        guard cursor == dataSectionCount else {
            throw SafetensorsError.badHeader("tensors cover \(cursor) bytes but the data section has \(dataSectionCount)")
        }
        self.tensors = tensors
        self.metadata = metadata
    }

    /// JSON numbers arrive as NSNumber (or Int/Double on some platforms); accept only exact integers.
    private static func intArray(_ any: Any?) -> [Int]? {
        guard let list = any as? [Any] else { return nil }
        var out: [Int] = []
        for item in list {
            if let n = item as? Int { out.append(n); continue }
            if let d = item as? Double, d == d.rounded(), abs(d) < 9e15 { out.append(Int(d)); continue }
            return nil
        }
        return out
    }

    private static func decode(_ bytes: [UInt8], from start: Int, count: Int, dtype: SafetensorsDType) -> [Float] {
        var out = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { raw in
            let base = raw.baseAddress!.advanced(by: start)
            for i in 0..<count {
                let p = base.advanced(by: i * dtype.byteCount)
                switch dtype {
                case .f32:
                    out[i] = Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(as: UInt32.self)))
                case .f64:
                    out[i] = Float(Double(bitPattern: UInt64(littleEndian: p.loadUnaligned(as: UInt64.self))))
                case .f16:
                    out[i] = Self.halfToFloat(UInt16(littleEndian: p.loadUnaligned(as: UInt16.self)))
                case .bf16:
                    // bfloat16 is the top half of an IEEE binary32.
                    out[i] = Float(bitPattern: UInt32(UInt16(littleEndian: p.loadUnaligned(as: UInt16.self))) << 16)
                }
            }
        }
        return out
    }

    /// IEEE binary16 → binary32 by hand (Float16 is unavailable on x86_64 Linux Swift). Subnormal halves
    /// are exact in binary32, so the conversion never rounds.
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign: Float = (h & 0x8000) != 0 ? -1 : 1
        let exponent = Int((h >> 10) & 0x1F)
        let mantissa = Float(h & 0x3FF)
        switch exponent {
        case 0: return sign * mantissa * 0x1p-24
        case 31: return mantissa == 0 ? sign * .infinity : .nan
        default: return sign * (1 + mantissa / 1024) * Float(sign: .plus, exponent: exponent - 15, significand: 1)
        }
    }

    // MARK: writing

    /// The file's bytes: every tensor as F32, in name order, the header padded with spaces to a multiple
    /// of 8 bytes so the data section stays aligned (as the reference writer does).
    public func serialized() throws -> Data {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            guard name != "__metadata__", !name.isEmpty else {
                throw SafetensorsError.badTensor(tensor: name, problem: "reserved or empty tensor name")
            }
            let t = tensors[name]!
            let length = t.elementCount * 4
            header[name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + length]] as [String: Any]
            offset += length
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys, .withoutEscapingSlashes])
        while json.count % 8 != 0 { json.append(UInt8(ascii: " ")) }
        var out = Data(capacity: 8 + json.count + offset)
        var length = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &length) { out.append(contentsOf: $0) }
        out.append(json)
        for name in names {
            tensors[name]!.values.withUnsafeBufferPointer { buf in
                var le = [UInt32](repeating: 0, count: buf.count)
                for i in 0..<buf.count { le[i] = buf[i].bitPattern.littleEndian }
                le.withUnsafeBytes { out.append(contentsOf: $0) }
            }
        }
        return out
    }

    /// Writes to a temporary file beside `url` and renames it into place, so a reader never sees half a file.
    public func write(to url: URL) throws {
        let data = try serialized()
        let dir = url.deletingLastPathComponent()
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).tmp")
        do {
            try data.write(to: tmp)
        } catch {
            try? FileManager.default.removeItem(at: tmp)
            throw SafetensorsError.io(path: url.path, problem: "cannot write in \(dir.path) (\(Self.reason(error)))")
        }
        guard rename(tmp.path, url.path) == 0 else {
            let code = errno
            try? FileManager.default.removeItem(at: tmp)
            throw SafetensorsError.io(path: url.path, problem: "cannot move the written file into place (\(String(cString: strerror(code))))")
        }
    }

    /// A file error's reason in words (the POSIX reason when Foundation has one), not a framework code.
    static func reason(_ error: Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        switch CocoaError.Code(rawValue: ns.code) {
        case .fileNoSuchFile, .fileReadNoSuchFile: return "no such file or folder"
        case .fileReadNoPermission, .fileWriteNoPermission: return "permission denied"
        case .fileWriteOutOfSpace: return "the disk is full"
        case .fileWriteVolumeReadOnly: return "read-only file system"
        default: return ns.domain == NSCocoaErrorDomain ? "input/output error" : "\(error)"
        }
    }

    public func tensor(_ name: String, in file: String = "file") throws -> SafetensorsTensor {
        guard let t = tensors[name] else { throw SafetensorsError.missingTensor(name, file: file) }
        return t
    }
}
