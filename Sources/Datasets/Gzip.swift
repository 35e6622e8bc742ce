import CZlib
import Foundation

/// gzip through zlib: Foundation on Linux has no gzip API. Reading handles multi-member files (what `cat a.gz
/// b.gz` produces); writing exists so tests can make gzipped fixtures without a tool.
public enum Gzip {
    /// True when `bytes` starts with the gzip magic 1f 8b.
    public static func isGzip(_ bytes: Data) -> Bool {
        bytes.count >= 2 && bytes[bytes.startIndex] == 0x1f && bytes[bytes.startIndex + 1] == 0x8b
    }

    /// Inflates a gzip stream. `limit` stops after that many output bytes (to read a header only).
    /// `name` is what errors call the input.
    public static func decompress(_ input: Data, name: String, limit: Int = .max) throws -> Data {
        var output = Data()
        var stream = z_stream()
        // windowBits 15 + 16: gzip wrapper only.
        guard inflateInit2_(&stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw DatasetError.corrupt(name: name, detail: "zlib could not start inflating")
        }
        defer { inflateEnd(&stream) }
        let chunk = 1 << 16
        var buffer = [UInt8](repeating: 0, count: chunk)
        try input.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            guard let base = raw.bindMemory(to: UInt8.self).baseAddress else { return }
            stream.next_in = UnsafeMutablePointer(mutating: base)
            stream.avail_in = uInt(raw.count)
            while output.count < limit {
                let status: Int32 = buffer.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(chunk)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                let produced = chunk - Int(stream.avail_out)
                output.append(contentsOf: buffer[0..<produced])
                if status == Z_STREAM_END {
                    // Another gzip member may follow (concatenated files): start over on the rest.
                    if stream.avail_in > 0 && inflateReset(&stream) == Z_OK { continue }
                    break
                }
                if status == Z_BUF_ERROR && stream.avail_in == 0 {
                    throw DatasetError.corrupt(name: name, detail: "gzip data ends early (truncated file?)")
                }
                guard status == Z_OK || status == Z_BUF_ERROR else {
                    let message = stream.msg.map { String(cString: $0) } ?? "status \(status)"
                    throw DatasetError.corrupt(name: name, detail: "gzip data is invalid: \(message)")
                }
            }
        }
        if output.count > limit { output.removeSubrange(limit...) }
        return output
    }

    /// Deflates `input` into a single gzip member.
    public static func compress(_ input: Data, level: Int32 = 6) throws -> Data {
        var stream = z_stream()
        guard deflateInit2_(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY,
                             ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw DatasetError.corrupt(name: "gzip writer", detail: "zlib could not start deflating")
        }
        defer { deflateEnd(&stream) }
        var output = Data()
        let chunk = 1 << 16
        var buffer = [UInt8](repeating: 0, count: chunk)
        var copy = [UInt8](input)
        try copy.withUnsafeMutableBufferPointer { inBuf in
            stream.next_in = inBuf.baseAddress
            stream.avail_in = uInt(inBuf.count)
            while true {
                let status: Int32 = buffer.withUnsafeMutableBufferPointer { out in
                    stream.next_out = out.baseAddress
                    stream.avail_out = uInt(chunk)
                    return deflate(&stream, Z_FINISH)
                }
                output.append(contentsOf: buffer[0..<(chunk - Int(stream.avail_out))])
                if status == Z_STREAM_END { break }
                guard status == Z_OK || status == Z_BUF_ERROR else {
                    throw DatasetError.corrupt(name: "gzip writer", detail: "deflate failed with status \(status)")
                }
            }
        }
        return output
    }

    /// Reads a file, inflating it when it is gzipped (decided by its magic bytes, not its name).
    public static func readMaybeCompressed(_ url: URL, limit: Int = .max) throws -> Data {
        let raw: Data
        do { raw = try Data(contentsOf: url) } catch {
            throw DatasetError.unreadable(path: url.path, detail: error.localizedDescription)
        }
        return isGzip(raw) ? try decompress(raw, name: url.path, limit: limit) : raw
    }
}
