import Foundation
import Testing

/// `train` prints each epoch's row as the epoch finishes: a run killed with its output redirected keeps the
/// rows of the epochs it finished.
@Suite struct TrainStreamingRowsTests {
    @Test func aKilledTrainKeepsTheRowsOfItsFinishedEpochs() throws {
        let cli = try CLI()
        let data = cli.root.appendingPathComponent("rows.csv")
        var lines = ["a,b,c,label"]
        for i in 0..<400 { lines.append("\(sin(Double(i))),\(cos(Double(i * 3))),\(Double(i % 7) / 7),\(i % 3)") }
        try lines.joined(separator: "\n").write(to: data, atomically: true, encoding: .utf8)
        let binary = try #require(CLI.binary)
        let out = cli.root.appendingPathComponent("train.out")
        FileManager.default.createFile(atPath: out.path, contents: nil)
        let handle = try FileHandle(forWritingTo: out)
        defer { try? handle.close() }
        let process = Process()
        process.executableURL = binary
        process.arguments = ["train", "--dataset", data.path, "--layers", "512,512", "--activations", "relu,relu",
                             "--epochs", "100000"]
        var env = ProcessInfo.processInfo.environment
        env["AFSEARCH_CACHE"] = cli.root.appendingPathComponent("cache").path
        process.environment = env
        process.standardOutput = handle
        process.standardError = FileHandle.nullDevice
        try process.run()
        func rows() -> [Substring] {
            let text = (try? String(contentsOf: out, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").filter { $0.range(of: #"^\s+\d+\s"#, options: .regularExpression) != nil }
        }
        let deadline = Date().addingTimeInterval(90)
        while rows().count < 3 && Date() < deadline && process.isRunning { Thread.sleep(forTimeInterval: 0.1) }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let text = try String(contentsOf: out, encoding: .utf8)
        #expect(text.contains("epoch   train loss  train acc"), "\(text)")
        let got = rows()
        #expect(got.count >= 3, "\(text)")
        #expect(got.prefix(3).map { $0.split(separator: " ").first.map(String.init) } == ["1", "2", "3"], "\(text)")
    }
}
