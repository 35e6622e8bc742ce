import Foundation

/// What one run of the `afsearch` binary left behind.
struct CLIResult {
    var status: Int32
    var stdout: String
    var stderr: String

    /// stdout parsed as JSON (nil when it is not JSON).
    var json: Any? { try? JSONSerialization.jsonObject(with: Data(stdout.utf8)) }
}

/// Runs the built `afsearch` executable as a subprocess, in a private temp folder.
final class CLI {
    /// The folder every run gets as AFSEARCH_CACHE/RUNS/DATA (under `cache`, `runs`, `data`); removed on deinit.
    let root: URL
    var data: URL { root.appendingPathComponent("data", isDirectory: true) }

    init() throws {
        root = FileManager.default.temporaryDirectory
            .appendingPathComponent("afsearchTests-\(UUID().uuidString)", isDirectory: true)
        for sub in ["cache", "runs", "data"] {
            try FileManager.default.createDirectory(at: root.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    /// Runs `afsearch ARGS`; `environment` entries override (a nil value removes the variable).
    func run(_ arguments: [String], environment: [String: String?] = [:], timeout: TimeInterval = 120) throws -> CLIResult {
        let (process, outURL, errURL) = try launch(arguments, environment: environment)
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            throw LocateError(description: "afsearch \(arguments.joined(separator: " ")) ran past \(timeout) s")
        }
        process.waitUntilExit()
        return CLIResult(
            status: process.terminationStatus,
            stdout: String(decoding: (try? Data(contentsOf: outURL)) ?? Data(), as: UTF8.self),
            stderr: String(decoding: (try? Data(contentsOf: errURL)) ?? Data(), as: UTF8.self))
    }

    /// Starts `afsearch ARGS` in the CLI's folder, with AFSEARCH_CACHE/RUNS/DATA pointing into it; output goes
    /// to files, not pipes (a chatty child can never block on a full pipe). Returns without waiting.
    func launch(_ arguments: [String], environment: [String: String?] = [:]) throws -> (process: Process, stdout: URL, stderr: URL) {
        guard let binary = Self.binary else {
            throw LocateError(description: "cannot find the built afsearch binary (looked next to the test bundle and in .build*/debug); "
                              + "set AFSEARCH_BINARY to its path")
        }
        var env = ProcessInfo.processInfo.environment
        env["AFSEARCH_CACHE"] = root.appendingPathComponent("cache").path
        env["AFSEARCH_RUNS"] = root.appendingPathComponent("runs").path
        env["AFSEARCH_DATA"] = data.path
        for (key, value) in environment { env[key] = value }

        let id = UUID().uuidString
        let outURL = root.appendingPathComponent("stdout-\(id)"), errURL = root.appendingPathComponent("stderr-\(id)")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let out = try FileHandle(forWritingTo: outURL), err = try FileHandle(forWritingTo: errURL)
        defer { try? out.close(); try? err.close() }

        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.environment = env
        process.currentDirectoryURL = root
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = out
        process.standardError = err
        try process.run()
        return (process, outURL, errURL)
    }

    struct LocateError: Error, CustomStringConvertible { var description: String }

    /// `$AFSEARCH_BINARY`, else an `afsearch` file in the build products folder that holds the test bundle
    /// (found from the running test executable and the loaded .xctest bundles, walking up a few folders),
    /// else the package's `.build/debug/afsearch`.
    static let binary: URL? = {
        let fm = FileManager.default
        func executable(_ url: URL) -> Bool {
            var isDirectory: ObjCBool = false
            return fm.fileExists(atPath: url.path, isDirectory: &isDirectory) && !isDirectory.boolValue
                && fm.isExecutableFile(atPath: url.path)
        }
        if let path = ProcessInfo.processInfo.environment["AFSEARCH_BINARY"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        var starts: [URL] = []
        if let exe = Bundle.main.executableURL { starts.append(exe) }
        starts.append(Bundle.main.bundleURL)
        starts += Bundle.allBundles.map(\.bundleURL).filter { $0.pathExtension == "xctest" }
        if let first = CommandLine.arguments.first, first.contains("/") { starts.append(URL(fileURLWithPath: first)) }
        for start in starts {
            // Linux: <products>/afsearchPackageTests.xctest; macOS: <products>/X.xctest/Contents/MacOS/X.
            var folder = start.resolvingSymlinksInPath()
            for _ in 0..<5 {
                folder = folder.deletingLastPathComponent()
                let candidate = folder.appendingPathComponent("afsearch")
                if executable(candidate) { return candidate }
            }
        }
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let fallback = package.appendingPathComponent(".build/debug/afsearch")
        return executable(fallback) ? fallback : nil
    }()
}
