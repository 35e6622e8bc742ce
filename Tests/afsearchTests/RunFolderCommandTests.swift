import Foundation
import Search
import Testing

/// `studies`, `show`, `report` and `export` on a real run folder (made with the Swift reference trainer, so no
/// OpenCL program is built): they read without writing, `report --output` and `export` touch nothing in the
/// run, and one unreadable store does not hide the others.
@Suite struct RunFolderCommandTests {
    /// A finished 1-generation evolution run in `runs/run`, and a corrupt store in `runs/broken`.
    static func makeRuns(_ cli: CLI) async throws -> URL {
        var lines = ["a,b,label"]
        for i in 0..<90 {
            let label = i % 3
            lines.append("\(Double(label * 3) + Double(i % 7) * 0.1),\(Double(i % 5) * 0.2 - Double(label)),\(label)")
        }
        let csv = cli.root.appendingPathComponent("blobs.csv")
        try lines.joined(separator: "\n").write(to: csv, atomically: true, encoding: .utf8)
        let runs = cli.root.appendingPathComponent("runs")
        let folder = runs.appendingPathComponent("run")
        let network = Study2FCN(width: 4, hiddenLayers: 1)
        let recipe = Study2Recipe(dataset: csv.path, network: network, epochs: 1, learningRate: 0.01, batchFraction: 0.5,
                                  finalEpochs: 1, train1Rows: 40, train2Rows: 20, testRows: 20, dataSeed: 1)
        do {
            let store = try SQLiteStudyStore(path: folder.appendingPathComponent("study.sqlite").path, studyName: "run")
            let settings = EvolutionSettings(method: .coevo, genome: .cgp, generations: 1, population: 2, seed: 1)
            let job = EvolutionJob(settings: settings, recipe: recipe, backend: .reference(network: network), store: store, folder: folder)
            _ = try await job.run()
        }
        try FileManager.default.createDirectory(at: runs.appendingPathComponent("broken"), withIntermediateDirectories: true)
        try Data(repeating: 0x42, count: 2048).write(to: runs.appendingPathComponent("broken/study.sqlite"))
        return folder
    }

    /// Names, sizes and modification times of everything under `folder`.
    static func state(_ folder: URL) -> [String: String] {
        var out: [String: String] = [:]
        let fm = FileManager.default
        for path in fm.enumerator(atPath: folder.path)?.compactMap({ $0 as? String }) ?? [] {
            let attributes = (try? fm.attributesOfItem(atPath: folder.appendingPathComponent(path).path)) ?? [:]
            out[path] = "\(attributes[.size] ?? "-") \((attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)"
        }
        return out
    }

    @Test func listingAndShowingReadWithoutWritingAndSkipAnUnreadableStore() async throws {
        let cli = try CLI()
        _ = try await Self.makeRuns(cli)
        let runs = cli.root.appendingPathComponent("runs")
        let before = Self.state(runs)

        let studies = try cli.run(["studies"])
        #expect(studies.status == 0, "\(studies.stderr)")
        let lines = studies.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("run ") && $0.contains(" evolution ") && $0.contains("2/2") }, "\(studies.stdout)")
        #expect(lines.contains { $0.hasPrefix("broken ") && $0.contains(" unreadable ") }, "\(studies.stdout)")
        #expect(studies.stdout.contains("cannot open study database"), "\(studies.stdout)")
        let json = try cli.run(["studies", "--json"])
        #expect(json.status == 0)
        let rows = try #require(json.json as? [[String: Any]])
        #expect(rows.count == 2)
        #expect(rows.contains { $0["name"] as? String == "broken" && $0["error"] is String })

        let show = try cli.run(["show", "run"])
        #expect(show.status == 0, "\(show.stderr)")
        #expect(show.stdout.contains("study run (evolution)"))
        #expect(Self.state(runs) == before, "studies/show changed the runs folder")
    }

    @Test func reportOutputAndExportLeaveTheRunAsItIs() async throws {
        let cli = try CLI()
        let folder = try await Self.makeRuns(cli)
        let before = Self.state(folder)
        let target = cli.root.appendingPathComponent("elsewhere.html")

        let report = try cli.run(["report", "run", "--output", target.path])
        #expect(report.status == 0, "\(report.stderr)")
        #expect(try String(contentsOf: target, encoding: .utf8).contains("<svg"))
        #expect(Self.state(folder) == before, "report --output rewrote the run folder")

        let failed = try cli.run(["report", folder.path, "--output", cli.root.appendingPathComponent("no/such/dir.html").path])
        #expect(failed.status == 1)
        #expect(Self.state(folder) == before)

        let relative = try cli.run(["report", "runs/run"])  // a path relative to the working folder, not runs/runs/run
        #expect(relative.status == 0, "\(relative.stderr)")
        #expect(!relative.stdout.contains("runs/runs"))

        let stateAfterReport = Self.state(folder)
        let pytorch = try cli.run(["export", "run"])
        #expect(pytorch.status == 0, "\(pytorch.stderr)")
        #expect(pytorch.stdout.contains("class EvolvedHidden(nn.Module)"), "\(pytorch.stdout.prefix(300))")
        for format in ["jax", "latex"] {
            let other = try cli.run(["export", folder.path, "--to", format])
            #expect(other.status == 0, "\(other.stderr)")
            #expect(other.stdout.contains("hidden"), "\(format): \(other.stdout.prefix(300))")
        }
        #expect(Self.state(folder) == stateAfterReport, "export wrote into the run folder")
    }
}

/// À la carte on the Swift reference trainer (no OpenCL program): the same command again continues the
/// study, and more --trials extend it.
@Suite struct AlacarteResumeCommandTests {
    @Test func theSameCommandAgainContinuesAndMoreTrialsExtend() throws {
        let cli = try CLI()
        var lines = ["a,b,label"]
        for i in 0..<60 { lines.append("\(Double(i % 10) * 0.1 + Double(i % 2) * 2),\(Double(i % 7) * 0.3),\(i % 2 == 0 ? "p" : "q")") }
        let csv = cli.root.appendingPathComponent("two.csv")
        try lines.joined(separator: "\n").write(to: csv, atomically: true, encoding: .utf8)
        let command = ["alacarte", "--dataset", csv.path, "--layers", "2", "--population", "2", "--epochs", "2",
                       "--trainer", "reference", "--menu", "relu,tanh", "--quiet"]
        let first = try cli.run(command + ["--trials", "2"])
        #expect(first.status == 0, "\(first.stderr)")
        let again = try cli.run(command + ["--trials", "2"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("(2 trials came from an earlier run)"), "\(again.stdout)")
        let more = try cli.run(command + ["--trials", "4"])
        #expect(more.status == 0, "\(more.stderr)")
        #expect(more.stdout.contains("of 4:"), "\(more.stdout)")
        let studies = try cli.run(["studies", "--json"])
        let listed = try #require(studies.json as? [[String: Any]])
        #expect(listed.count == 1)
        #expect(listed.first?["finishedCount"] as? Int == 4, "\(studies.stdout)")

        // An à la carte study has a report too: objective over trials, best trials, settings.
        let name = try #require(listed.first?["name"] as? String)
        let output = cli.root.appendingPathComponent("study.html")
        let report = try cli.run(["report", name, "--output", output.path])
        #expect(report.status == 0, "\(report.stderr)")
        let html = try String(contentsOf: output, encoding: .utf8)
        #expect(html.contains("<svg"))
        #expect(html.contains("Best trials"))
        #expect(html.contains("objective per trial"))

        // ... and exports its best network's functions, one per layer.
        let exported = try cli.run(["export", name])
        #expect(exported.status == 0, "\(exported.stderr)")
        #expect(exported.stdout.contains("class Layer0Activation(nn.Module)"), "\(exported.stdout.prefix(400))")
        #expect(exported.stdout.contains("class Layer1Activation(nn.Module)"))
        #expect(exported.stdout.components(separatedBy: "import torch\n").count == 2, "imports once")
        let latex = try cli.run(["export", name, "--to", "latex"])
        #expect(latex.status == 0, "\(latex.stderr)")
        #expect(latex.stdout.contains("% layer 1"))
    }
}

/// An à la carte experiment (reference trainer) has a report with its table and a plot per dataset and depth.
@Suite struct AlacarteExperimentReportTests {
    @Test func theExperimentReportHasItsTableAndPlots() throws {
        let cli = try CLI()
        var lines = ["a,b,label"]
        for i in 0..<60 { lines.append("\(Double(i % 10) * 0.1 + Double(i % 2) * 2),\(Double(i % 7) * 0.3),\(i % 2 == 0 ? "p" : "q")") }
        let csv = cli.root.appendingPathComponent("two.csv")
        try lines.joined(separator: "\n").write(to: csv, atomically: true, encoding: .utf8)
        let run = try cli.run(["experiment", "alacarte", "--datasets", csv.path, "--depth", "2", "--replicates", "2", "--trials", "2",
                               "--population", "2", "--epochs", "2", "--menu", "relu,tanh", "--trainer", "reference",
                               "--study", "exp", "--quiet"])
        #expect(run.status == 0, "\(run.stderr)")
        let output = cli.root.appendingPathComponent("exp.html")
        let report = try cli.run(["report", "exp", "--output", output.path])
        #expect(report.status == 0, "\(report.stderr)")
        let html = try String(contentsOf: output, encoding: .utf8)
        #expect(html.contains("<svg"))
        #expect(html.contains("Test accuracy per replicate"))
        #expect(html.contains("vs standard"))  // the table's wins/ties/losses
    }
}
