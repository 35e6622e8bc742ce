import Foundation
import Search
import TestSupport
import Testing

/// Several `afsearch alacarte` processes on one study, some killed with SIGKILL while they train and started
/// again: the study still ends with exactly --trials finished trials, numbered 0..<trials, none twice, none
/// lost, and the claims of the killed processes were requeued (claimed again: attempts > 1).
@Suite(.serialized) struct WorkerFaultTests {
    static let trials = 20

    /// 300 rows, 4 features, 3 overlapping classes: a few tenths of a second of training per trial on one PoCL
    /// thread at 600 epochs, long enough for a kill to land mid-trial.
    static func writeData(_ cli: CLI) throws -> URL {
        var generator = SeededGenerator(seed: 5)
        var text = "a,b,c,d,label\n"
        for _ in 0..<300 {
            let label = Int.random(in: 0..<3, using: &generator)
            let features = (0..<4).map { _ in String(format: "%.4f", Double(label) + Double.random(in: -1.5...1.5, using: &generator)) }
            text += features.joined(separator: ",") + ",c\(label)\n"
        }
        let url = cli.data.appendingPathComponent("fault.csv")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    static func command(data: URL, storage: String, study: String) -> [String] {
        ["alacarte", "--dataset", data.path, "--trials", String(trials), "--population", "2", "--epochs", "600",
         "--patience", "0", "--menu", "relu,tanh,sigmoid,elu,softplus,x", "--depth", "3", "--study", study,
         "--storage", storage, "--heartbeat", "0.3", "--stale-after", "2", "--max-attempts", "5", "--quiet", "--json"]
    }

    /// The processes that hold a running trial of the study now (by the worker table's pids).
    static func claimHolders(_ store: any StudyStore) -> Set<Int32> {
        guard let running = try? store.trials(states: [.running]), let workers = try? store.workers() else { return [] }
        let holders = Set(running.compactMap(\.worker))
        return Set(workers.filter { holders.contains($0.identity.id) }.map { Int32($0.identity.pid) })
    }

    /// Runs `workers` processes and kills one at random of those that hold claims (`kills` in all), restarting
    /// each at once. Kill k waits until (k + 1) / (kills + 2) of the trials have finished (looking every 0.2 s), so
    /// the kills follow the study's progress, not the clock: a faster trainer moves them earlier instead of past
    /// the study's end, as long as a trial outlasts a look. Only claim holders are picked, so every kill leaves
    /// claims to requeue.
    static func runWithKills(cli: CLI, command: [String], storage: String, study: String, workers: Int,
                             kills: Int) throws -> (exits: [Int32], killed: Int) {
        var generator = SeededGenerator(seed: 11)
        var running = try (0..<workers).map { _ in try cli.launch(command, environment: ["POCL_MAX_PTHREAD_COUNT": "1"]).process }
        var exits: [Int32] = []
        var killed = 0
        let deadline = Date().addingTimeInterval(300)
        var nextLook = Date()
        while !running.isEmpty {
            guard Date() < deadline else {
                running.forEach { kill($0.processIdentifier, SIGKILL) }
                throw CLI.LocateError(description: "the workers ran past 300 s")
            }
            Thread.sleep(forTimeInterval: 0.05)
            for (index, process) in running.enumerated().reversed() where !process.isRunning {
                exits.append(process.terminationStatus)
                running.remove(at: index)
            }
            guard killed < kills, !running.isEmpty, Date() >= nextLook else { continue }
            nextLook = Date().addingTimeInterval(0.2)
            // Opened afresh each look: the study exists once the first worker has created it, and a SQLite file
            // that nobody writes at the moment it is opened would be read as immutable.
            guard let store = try? StudyStorage(storage).openForReading(study),
                  let finished = try? store.count(states: TrialState.finished),
                  finished >= (killed + 1) * trials / (kills + 2) else { continue }
            let holders = claimHolders(store)
            let busy = running.indices.filter { holders.contains(running[$0].processIdentifier) }
            guard !busy.isEmpty else { continue }
            let victim = busy[Int.random(in: 0..<busy.count, using: &generator)]
            kill(running[victim].processIdentifier, SIGKILL)
            running[victim].waitUntilExit()
            running.remove(at: victim)
            killed += 1
            running.append(try cli.launch(command, environment: ["POCL_MAX_PTHREAD_COUNT": "1"]).process)
        }
        return (exits, killed)
    }

    static func check(_ store: any StudyStore, killed: Int) throws {
        let all = try store.trials()
        #expect(all.map(\.number) == Array(0..<trials), "numbers 0..<trials, none twice, none lost")
        #expect(all.allSatisfy { $0.state == .complete }, "every trial finished: \(all.map(\.state.rawValue))")
        #expect(Set(all.map(\.parameters)).count == all.count, "no point trained under two numbers")
        #expect(try store.count(states: TrialState.unfinished) == 0)
        // The killed processes held claims (two slots each, always busy): each was claimed again.
        #expect(all.filter { $0.attempts > 1 }.count >= 1, "the killed workers' claims were requeued")
        #expect(all.allSatisfy { $0.attempts >= 1 && $0.attempts <= 5 })
        let workers = try store.workers()
        #expect(workers.count >= killed + 2)
        #expect(all.filter { $0.testAccuracy != nil }.count == 1, "the test split scored once, on the best trial")
    }

    @Test func fourWorkersOnPostgreSQLSurviveKills() throws {
        let server = try PostgresTestServer.shared()
        let cli = try CLI()
        let data = try Self.writeData(cli)
        let study = "fault-pg-\(UUID().uuidString.prefix(6).lowercased())"
        let (exits, killed) = try Self.runWithKills(cli: cli, command: Self.command(data: data, storage: server.url, study: study),
                                                    storage: server.url, study: study, workers: 4, kills: 3)
        #expect(killed == 3)
        #expect(exits.allSatisfy { $0 == 0 }, "every worker that was not killed ended well: \(exits) \(cli.workerErrors())")
        try Self.check(try StudyStorage(server.url).openForReading(study), killed: killed)
    }

    @Test func twoWorkersOnSQLiteSurviveKills() throws {
        let cli = try CLI()
        let data = try Self.writeData(cli)
        let path = cli.root.appendingPathComponent("runs/fault-sqlite/study.sqlite").path
        let (exits, killed) = try Self.runWithKills(cli: cli, command: Self.command(data: data, storage: "sqlite:" + path, study: "fault-sqlite"),
                                                    storage: "sqlite:" + path, study: "fault-sqlite", workers: 2, kills: 2)
        #expect(killed == 2)
        #expect(exits.allSatisfy { $0 == 0 }, "every worker that was not killed ended well: \(exits) \(cli.workerErrors())")
        try Self.check(try StudyStorage("sqlite:" + path).openForReading("fault-sqlite"), killed: killed)
    }
}

/// `afsearch workers`: one worker per listed device on one study, their output prefixed, all ending together.
@Suite struct WorkersCommandTests {
    @Test func twoWorkersShareOneStudy() throws {
        let cli = try CLI()
        let data = try WorkerFaultTests.writeData(cli)
        let path = cli.root.appendingPathComponent("runs/shared/study.sqlite").path
        let result = try cli.run(["workers", "--devices", "0,0", "--", "alacarte", "--dataset", data.path, "--trials", "12",
                                  "--population", "2", "--epochs", "20", "--menu", "relu,tanh,x", "--depth", "3",
                                  "--study", "shared", "--storage", "sqlite:" + path],
                                 environment: ["POCL_MAX_PTHREAD_COUNT": "1"], timeout: 300)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("[worker 0 device 0] best trial") && result.stdout.contains("[worker 1 device 0] best trial"))
        let store = try StudyStorage("sqlite:" + path).openForReading("shared")
        let trials = try store.trials()
        #expect(trials.count == 12 && trials.allSatisfy { $0.state.isFinished })
        #expect(try store.workers().count == 2)
    }

    /// `workers -- evolve`: worker N evolves island N of one study; `show` and `report` list islands and migrations.
    @Test func evolveWorkersAreIslands() throws {
        let cli = try CLI()
        let data = try WorkerFaultTests.writeData(cli)
        let path = cli.root.appendingPathComponent("runs/islands/study.sqlite").path
        let result = try cli.run(["workers", "--devices", "0,0", "--", "evolve", "--dataset", data.path, "--generations", "3",
                                  "--population", "2", "--epochs", "1", "--final-epochs", "1", "--train-rows", "120",
                                  "--validation-rows", "60", "--test-rows", "60", "--width", "4", "--hidden-layers", "1",
                                  "--migrate-every", "1", "--migrants", "1", "--study", "islands", "--storage", "sqlite:" + path],
                                 environment: ["POCL_MAX_PTHREAD_COUNT": "1"], timeout: 300)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("[worker 1 device 0] started: afsearch evolve") && result.stderr.contains("--island 1"))
        let store = try StudyStorage("sqlite:" + path).openForReading("islands")
        #expect(Set(try store.trials().compactMap(\.island)) == ["0", "1"])
        #expect(try store.immigrations().map(\.island) == ["0", "0", "1", "1"])
        for island in 0..<2 {
            #expect(FileManager.default.fileExists(atPath: cli.root.appendingPathComponent("runs/islands/island-\(island)/evolution.json").path))
        }
        let show = try cli.run(["show", "islands", "--storage", "sqlite:" + path])
        #expect(show.status == 0 && show.stdout.contains("islands: 2") && show.stdout.contains("migrations: 4 barriers passed"))
        let report = try cli.run(["report", "islands", "--storage", "sqlite:" + path])
        #expect(report.status == 0, "\(report.stderr)")
        let html = try String(contentsOfFile: report.stdout.trimmingCharacters(in: .whitespacesAndNewlines), encoding: .utf8)
        #expect(html.contains("<h2>Islands</h2>") && html.contains("<h2>Migrations</h2>"))

        let named = try cli.run(["workers", "--", "evolve", "--dataset", data.path, "--island", "3"])
        #expect(named.status == 64 && named.stderr.contains("workers number the islands"))
        let orphan = try cli.run(["evolve", "--dataset", data.path, "--migrate-every", "2"])
        #expect(orphan.status == 64 && orphan.stderr.contains("--island N"))
    }

    @Test func benchStorageTimesEveryCheckpointOnBothBackends() throws {
        let cli = try CLI()
        for storage in ["sqlite:" + cli.root.appendingPathComponent("bench/study.sqlite").path, try PostgresTestServer.shared().url] {
            let result = try cli.run(["bench", "storage", "--storage", storage, "--trials", "1200", "--window", "100", "--json"])
            #expect(result.status == 0, "\(result.stderr)")
            let object = try #require(result.json as? [String: Any])
            let checkpoints = try #require(object["checkpoints"] as? [[String: Any]])
            #expect(checkpoints.compactMap { $0["trials"] as? Int } == [1000, 1200])
            #expect(checkpoints.allSatisfy { ($0["medianMilliseconds"] as? Double ?? 0) > 0 })
            #expect(!(object["storage"] as? String ?? "").isEmpty)
        }
    }

    @Test func refusesWhatWorkersCannotRun() throws {
        let cli = try CLI()
        let noCommand = try cli.run(["workers"])
        #expect(noCommand.status == 64 && noCommand.stderr.contains("no command"))
        let train = try cli.run(["workers", "--", "train", "--dataset", "x"])
        #expect(train.status == 64 && train.stderr.contains("workers run `alacarte`"))
        let device = try cli.run(["workers", "--", "alacarte", "--dataset", "x", "--device", "0"])
        #expect(device.status == 64 && device.stderr.contains("--devices"))
    }
}

extension CLI {
    /// What the started workers wrote on stderr (for a failure's message).
    func workerErrors() -> String {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []
        return files.filter { $0.hasPrefix("stderr-") }.compactMap {
            try? String(contentsOf: root.appendingPathComponent($0), encoding: .utf8)
        }.filter { !$0.isEmpty }.joined(separator: "\n---\n")
    }
}
