import Foundation

/// The IDX format of MNIST and its kin: bytes 0–1 zero, byte 2 the element type, byte 3 the number of
/// dimensions, then each dimension as a big-endian UInt32, then the elements (big-endian, row-major).
/// Files may be gzipped (`.gz`); the magic bytes decide, not the name.
public enum IDXLoader {
    /// A decoded IDX array.
    public struct Array: Sendable, Equatable {
        public var dimensions: [Int]
        public var values: [Float]
        /// The element type code: 0x08 ubyte, 0x09 sbyte, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64.
        public var typeCode: UInt8
    }

    /// Reads only the header (dimensions, type), inflating just its first bytes.
    public static func readDimensions(_ url: URL) throws -> (dimensions: [Int], typeCode: UInt8) {
        let data = try Gzip.readMaybeCompressed(url, limit: 4 + 4 * 255)
        let header = try parseHeader([UInt8](data), path: url.path, requireBody: false)
        return (header.dimensions, header.typeCode)
    }

    public static func read(_ url: URL) throws -> Array {
        try decode([UInt8](try Gzip.readMaybeCompressed(url)), path: url.path)
    }

    private static func elementSize(_ type: UInt8) -> Int? {
        switch type {
        case 0x08, 0x09: return 1
        case 0x0B: return 2
        case 0x0C, 0x0D: return 4
        case 0x0E: return 8
        default: return nil
        }
    }

    private static func parseHeader(_ bytes: [UInt8], path: String, requireBody: Bool)
        throws -> (dimensions: [Int], typeCode: UInt8, bodyOffset: Int) {
        guard bytes.count >= 4, bytes[0] == 0, bytes[1] == 0 else {
            throw DatasetError.malformedHeader(path: path, line: 1,
                detail: "not an IDX file: expected the magic 00 00 <type> <dims> in the first 4 bytes")
        }
        let type = bytes[2]
        guard let size = elementSize(type) else {
            throw DatasetError.malformedHeader(path: path, line: 1,
                detail: String(format: "unknown IDX element type 0x%02X (expected 08, 09, 0B, 0C, 0D or 0E)", type))
        }
        let rank = Int(bytes[3])
        guard rank >= 1 else {
            throw DatasetError.malformedHeader(path: path, line: 1, detail: "IDX file declares 0 dimensions")
        }
        guard bytes.count >= 4 + 4 * rank else {
            throw DatasetError.corrupt(name: path, detail: "IDX header ends early: \(rank) dimensions declared")
        }
        var dims: [Int] = []
        for d in 0..<rank {
            let o = 4 + 4 * d
            dims.append(Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8 | Int(bytes[o + 3]))
        }
        let body = 4 + 4 * rank
        if requireBody {
            let expected = dims.reduce(1, *) * size
            guard bytes.count - body == expected else {
                throw DatasetError.corrupt(name: path,
                    detail: "IDX body holds \(bytes.count - body) bytes; dimensions \(dims) of \(size)-byte elements need \(expected)")
            }
        }
        return (dims, type, body)
    }

    static func decode(_ bytes: [UInt8], path: String) throws -> Array {
        let (dims, type, body) = try parseHeader(bytes, path: path, requireBody: true)
        let count = dims.reduce(1, *)
        var values = [Float](repeating: 0, count: count)
        bytes.withUnsafeBufferPointer { raw in
            let p = raw.baseAddress! + body
            func be32(_ i: Int) -> UInt32 {
                UInt32(p[i]) << 24 | UInt32(p[i + 1]) << 16 | UInt32(p[i + 2]) << 8 | UInt32(p[i + 3])
            }
            switch type {
            case 0x08: for i in 0..<count { values[i] = Float(p[i]) }
            case 0x09: for i in 0..<count { values[i] = Float(Int8(bitPattern: p[i])) }
            case 0x0B: for i in 0..<count { values[i] = Float(Int16(bitPattern: UInt16(p[2 * i]) << 8 | UInt16(p[2 * i + 1]))) }
            case 0x0C: for i in 0..<count { values[i] = Float(Int32(bitPattern: be32(4 * i))) }
            case 0x0D: for i in 0..<count { values[i] = Float(bitPattern: be32(4 * i)) }
            default:
                for i in 0..<count {
                    let bits = UInt64(be32(8 * i)) << 32 | UInt64(be32(8 * i + 4))
                    values[i] = Float(Double(bitPattern: bits))
                }
            }
        }
        return Array(dimensions: dims, values: values, typeCode: type)
    }

    /// Encodes an array as IDX bytes (for tests and for users who export data).
    public static func encode(dimensions: [Int], bytes values: [UInt8]) -> Data {
        var out: [UInt8] = [0, 0, 0x08, UInt8(dimensions.count)]
        for d in dimensions { out += [UInt8(d >> 24 & 0xff), UInt8(d >> 16 & 0xff), UInt8(d >> 8 & 0xff), UInt8(d & 0xff)] }
        out += values
        return Data(out)
    }

    /// An image file and its label file as one labelled set. Unsigned-byte pixels are divided by 255
    /// (so the MNIST-family mean/std constants, given for [0, 1] pixels, apply); other types are kept as is.
    /// Image shape: (1, H, W) for rank-3 files, (C, H, W) for rank-4 files.
    public static func load(images: URL, labels labelURL: URL, classCount: Int? = nil) throws -> LabeledData {
        let imageArray = try read(images)
        let labelArray = try read(labelURL)
        guard imageArray.dimensions.count >= 2 else {
            throw DatasetError.malformedHeader(path: images.path, line: 1,
                detail: "an image file needs at least 2 dimensions (count, features…), found \(imageArray.dimensions)")
        }
        guard labelArray.dimensions.count == 1 else {
            throw DatasetError.malformedHeader(path: labelURL.path, line: 1,
                detail: "a label file has 1 dimension (count), found \(labelArray.dimensions)")
        }
        let rows = imageArray.dimensions[0]
        guard labelArray.dimensions[0] == rows else {
            throw DatasetError.corrupt(name: labelURL.path,
                detail: "\(labelArray.dimensions[0]) labels for \(rows) images in \(images.path)")
        }
        guard rows > 0 else { throw DatasetError.noRows(path: images.path) }
        var labels = [Int32]()
        labels.reserveCapacity(rows)
        for (i, value) in labelArray.values.enumerated() {
            guard value >= 0, value == value.rounded(), value < 65536 else {
                throw DatasetError.corrupt(name: labelURL.path, detail: "label \(i) is \(value); expected a class index ≥ 0")
            }
            labels.append(Int32(value))
        }
        let classes = classCount ?? (Int(labels.max()!) + 1)
        if let bad = labels.first(where: { Int($0) >= classes }) {
            throw DatasetError.corrupt(name: labelURL.path, detail: "label \(bad) is outside 0..<\(classes)")
        }
        let shape: [Int]
        switch imageArray.dimensions.count {
        case 3: shape = [1] + imageArray.dimensions[1...]
        case 4: shape = Swift.Array(imageArray.dimensions[1...])
        default: shape = [1, 1] + imageArray.dimensions[1...]
        }
        var features = imageArray.values
        if imageArray.typeCode == 0x08 {
            for i in features.indices { features[i] /= 255 }
        }
        return LabeledData(features: features, labels: labels, featureCount: shape.reduce(1, *), classCount: classes,
                           imageShape: shape)
    }
}
