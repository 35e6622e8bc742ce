import ArgumentParser
import Foundation
import GPUEngine
import Search

// How afsearch fails (README, "Exit codes"):
//   64  the command line itself is wrong: an unknown option, a missing or malformed value, a value out of range,
//       options that conflict, an expression that does not parse. The message is followed by the command's usage.
//    1  the command line is well-formed but what it names cannot be used: a file or dataset that is missing or
//       malformed, a device that is not there, a study that already exists or does not, an output that cannot
//       be written, a training that fails.
// Both print one line that starts with "Error: " on stderr, naming the input and what was expected.

/// A failure at run time (exit 1): `description` names the input and what was expected.
struct CommandFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The text of an error for a person: what afsearch's own errors say, and for Foundation's file errors the
/// path and the reason in words (never "NSCocoaErrorDomain Code=…").
enum ErrorText {
    static func describe(_ error: Error) -> String {
        if error is DecodingError { return JSONFileProblem.describe(error) }
        if let cocoa = error as? CocoaError, cocoa.isFileError { return describe(cocoa) }
        if let posix = error as? POSIXError { return String(cString: strerror(posix.code.rawValue)) }
        let ns = error as NSError
        if ns.domain == NSCocoaErrorDomain, (256..<640).contains(ns.code) || ns.code == 4 {
            return describe(CocoaError(CocoaError.Code(rawValue: ns.code), userInfo: ns.userInfo))
        }
        if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
        if let localized = error as? LocalizedError, let text = localized.errorDescription { return text }
        // The dynamic type's own description (every afsearch error has one), not the bridged NSError's.
        return String(describing: error)
    }

    static func describe(_ error: CocoaError) -> String {
        let path = error.filePath ?? error.url?.path ?? (error.userInfo[NSFilePathErrorKey] as? String)
        var reason: String
        switch error.code {
        case .fileNoSuchFile, .fileReadNoSuchFile: reason = "no such file or folder"
        case .fileReadNoPermission, .fileWriteNoPermission: reason = "permission denied"
        case .fileWriteOutOfSpace: reason = "the disk is full"
        case .fileWriteVolumeReadOnly: reason = "the file system is read-only"
        case .fileWriteFileExists: reason = "it already exists"
        case .fileReadCorruptFile: reason = "the file is not in the expected format"
        case .fileReadInapplicableStringEncoding: reason = "the file is not UTF-8 text"
        case .fileReadTooLarge: reason = "the file is too large"
        default:
            if let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
                reason = String(cString: strerror(Int32(underlying.code)))
            } else if error.code.rawValue >= 512 && error.code.rawValue < 640 {
                reason = "cannot write"
            } else {
                reason = "cannot read"
            }
        }
        if let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain,
           [.fileNoSuchFile, .fileReadNoSuchFile, .fileReadNoPermission, .fileWriteNoPermission].contains(error.code) == false {
            reason = String(cString: strerror(Int32(underlying.code)))
        }
        let reading = error.code.rawValue < 512
        return "\(reading ? "cannot read" : "cannot write") \(path ?? "the file"): \(reason)"
    }
}

/// Output files (`--save-weights`, `--output`) are checked before any work: a path that cannot be written
/// fails at once, not after a long training.
enum OutputPath {
    /// Throws a `CommandFailure` naming `option` when `path` cannot become a regular file.
    static func check(_ path: String, option: String) throws {
        guard !path.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw ValidationError("\(option) is empty; expected a file path")
        }
        let fm = FileManager.default
        let url = URL(fileURLWithPath: path)
        var isDirectory: ObjCBool = false
        if fm.fileExists(atPath: url.path, isDirectory: &isDirectory) {
            if isDirectory.boolValue || path.hasSuffix("/") {
                throw CommandFailure("\(option) \(path) is a folder; expected a file path")
            }
            let type = (try? fm.attributesOfItem(atPath: url.path)[.type] as? FileAttributeType) ?? nil
            if let type, type != .typeRegular, type != .typeSymbolicLink {
                throw CommandFailure("\(option) \(path) is not a regular file (a device or a pipe); expected a file path")
            }
        }
        let folder = url.deletingLastPathComponent()
        if !fm.fileExists(atPath: folder.path, isDirectory: &isDirectory) {
            throw CommandFailure("\(option) \(path): the folder \(folder.path) does not exist")
        }
        if !isDirectory.boolValue {
            throw CommandFailure("\(option) \(path): \(folder.path) is not a folder")
        }
        if !fm.isWritableFile(atPath: folder.path) {
            throw CommandFailure("\(option) \(path): cannot write in the folder \(folder.path) (permission denied)")
        }
    }
}

/// Values that start with '-' (negative numbers, expressions such as '-x*2') read as what they are, not as
/// options. The parser is tried on the arguments as given first; when that fails and some argument starts
/// with a single '-', each such argument is tried as the value of the option before it (`--lr -1` becomes
/// `--lr=-1`) or as the command's positional argument (after `--`), and the first reading that parses wins.
enum HyphenatedValues {
    /// Whether `argument` looks like a value rather than an option: a single '-' and then not a letter other
    /// than x, or an expression-like text (`-x*2`, `-exp(x)`).
    static func looksLikeValue(_ argument: String) -> Bool {
        guard argument.hasPrefix("-"), !argument.hasPrefix("--"), argument.count > 1, argument != "-h" else { return false }
        return true
    }

    /// Readings of `arguments` to try, best first (at most 16).
    static func readings(_ arguments: [String]) -> [[String]] {
        let terminator = arguments.firstIndex(of: "--") ?? arguments.count
        let indices = (0..<terminator).filter { looksLikeValue(arguments[$0]) }
        guard !indices.isEmpty, indices.count <= 4 else { return [] }
        var out: [[String]] = []
        // Bit i set: argument indices[i] joins the option before it; clear: it becomes a positional.
        for mask in (0..<(1 << indices.count)).reversed() {
            var joined: [Int: Bool] = [:]
            var possible = true
            for (bit, index) in indices.enumerated() {
                let join = mask & (1 << bit) != 0
                if join {
                    let previous = index > 0 ? arguments[index - 1] : ""
                    guard previous.hasPrefix("--"), !previous.contains("="), previous != "--",
                          joined[index - 1] == nil else { possible = false; break }
                }
                joined[index] = join
            }
            guard possible else { continue }
            var head: [String] = []
            var positionals: [String] = []
            var i = 0
            while i < terminator {
                if let next = joined[i + 1], next {
                    head.append(arguments[i] + "=" + arguments[i + 1])
                    i += 2
                    continue
                }
                if let join = joined[i], !join { positionals.append(arguments[i]) } else { head.append(arguments[i]) }
                i += 1
            }
            var reading = head
            let tail = terminator < arguments.count ? Array(arguments[(terminator + 1)...]) : []
            if !positionals.isEmpty || terminator < arguments.count {
                reading += ["--"] + positionals + tail
            }
            out.append(reading)
        }
        return out
    }
}
