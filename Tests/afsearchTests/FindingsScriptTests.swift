import Foundation
import Testing

/// `scripts/findings.sh --quick`: the pipeline that publishes results/ (run the experiments, copy their tables
/// and reports, write each step's README with command, commit, device and wall time), on a CSV the test writes,
/// with the built binary. A smoke test of the pipeline, not of the numbers.
@Suite struct FindingsScriptTests {
    static let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Three separable classes in four features, 150 rows.
    static func csv() -> String {
        var lines = ["f0,f1,f2,f3,label"]
        for i in 0..<150 {
            let k = i % 3
            let features = (0..<4).map { j in (j == k ? 2.0 : 0.0) + 0.5 * sin(Double(i * 11 + j * 5)) }
            lines.append(features.map { String(format: "%.4f", $0) }.joined(separator: ",") + ",\(k)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    func runScript(_ arguments: [String], cli: CLI, data: URL) throws -> (status: Int32, output: String) {
        let binary = try #require(CLI.binary)
        let log = cli.root.appendingPathComponent("findings-\(UUID().uuidString).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        defer { try? handle.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [Self.package.appendingPathComponent("scripts/findings.sh").path] + arguments
        var env = ProcessInfo.processInfo.environment
        env["AFSEARCH"] = binary.path
        env["AFSEARCH_CACHE"] = cli.root.appendingPathComponent("cache").path
        env["FINDINGS_ALACARTE_DATA"] = data.path
        env["FINDINGS_EVOLUTION_DATA"] = data.path
        process.environment = env
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        let deadline = Date().addingTimeInterval(600)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning { process.terminate(); process.waitUntilExit() }
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: (try? Data(contentsOf: log)) ?? Data(), as: UTF8.self))
    }

    @Test func quickFindingsPublishEveryStepAndResume() throws {
        let cli = try CLI()
        let data = cli.root.appendingPathComponent("blobs.csv")
        try Self.csv().write(to: data, atomically: true, encoding: .utf8)
        let results = cli.root.appendingPathComponent("results")
        let first = try runScript(["--quick", "--results", results.path, "study1", "study2-fcn"], cli: cli, data: data)
        #expect(first.status == 0, "\(first.output)")

        for (step, files) in [("study1-alacarte", ["table.md", "table.csv", "functions.md", "report.html"]),
                              ("study2-fcn", ["experiment-evolution.md", "experiment-evolution.csv", "report.html"])] {
            let folder = results.appendingPathComponent(step)
            for file in files {
                #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent(file).path), "\(step)/\(file)")
            }
            let readme = try String(contentsOf: folder.appendingPathComponent("README.md"), encoding: .utf8)
            #expect(readme.contains("- command: `afsearch experiment"), "\(readme)")
            #expect(readme.contains("- afsearch commit: ") && readme.contains("- device: "))
            #expect(readme.contains("over 1 invocation(s)"))
        }
        let table = try String(contentsOf: results.appendingPathComponent("study1-alacarte/table.md"), encoding: .utf8)
        #expect(table.contains("| standard | standard-softmax | random | tpe |"))
        #expect(table.contains("| \(data.path) | 3 | 2 |"))

        // Again: the experiment resumes (every cell is finished), the same table is published, times add up.
        let second = try runScript(["--quick", "--results", results.path, "study1"], cli: cli, data: data)
        #expect(second.status == 0, "\(second.output)")
        #expect(try String(contentsOf: results.appendingPathComponent("study1-alacarte/table.md"), encoding: .utf8) == table)
        let readme = try String(contentsOf: results.appendingPathComponent("study1-alacarte/README.md"), encoding: .utf8)
        #expect(readme.contains("over 2 invocation(s)"))

        let bad = try runScript(["--quick", "study3"], cli: cli, data: data)
        #expect(bad.status == 2 && bad.output.contains("unknown argument 'study3'"))
    }
}
