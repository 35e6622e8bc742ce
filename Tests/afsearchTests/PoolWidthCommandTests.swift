import Foundation
import Datasets
import GPUEngine
import Kernels
import Search
import Testing

/// `alacarte` without `--population`: the pool width cached for this device and workload, else measured and
/// cached; a study keeps the width it started with; `--population` wins.
@Suite struct PoolWidthCommandTests {
    /// 60 rows, 2 features, 3 classes: 34 training rows after the default split (bucket 64).
    static func writeData(_ cli: CLI) throws -> URL {
        var text = "a,b,label\n"
        for i in 0..<60 {
            let label = i % 3
            text += String(format: "%.3f,%.3f,c%d\n", Double(label) + Double(i % 7) * 0.1, Double(label) - Double(i % 5) * 0.2, label)
        }
        let url = cli.data.appendingPathComponent("tiny.csv")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    static func command(_ data: URL, study: String, trials: Int = 3) -> [String] {
        ["alacarte", "--dataset", data.path, "--trials", "\(trials)", "--epochs", "2", "--menu", "relu,tanh", "--depth", "2", "--study", study]
    }

    static func storedPopulation(_ cli: CLI, study: String) throws -> Int? {
        let store = try SQLiteStudyStore(path: cli.root.appendingPathComponent("runs/\(study)/study.sqlite").path, studyName: study)
        return try store.settings(as: AlaCarteSettings.self)?.population
    }

    /// A width written into the cache beforehand, under the key the library gives this workload (the default
    /// device, the menu as the trainer's vocabulary, 2 → 64 → 3, up to 64 training rows), is used and named.
    @Test func aCachedWidthIsUsedAndReported() throws {
        let cli = try CLI()
        let data = try Self.writeData(cli)
        let trainer = PopulationTrainer(device: try ComputeDevice.select())
        trainer.vocabulary = [.unary(.relu, .x), .unary(.tanh, .x)]
        let spec = try MLPSpec(widths: [2, 64, 3], lastLayerActivation: true)
        let rows = LabeledData(features: [Float](repeating: 0, count: 2 * 34), labels: [Int32](repeating: 0, count: 34),
                               featureCount: 2, classCount: 3)
        let key = try PoolWidthCache.keyText(trainer: trainer, spec: spec, config: TrainingConfig(epochs: 2, learningRate: 0.001), train: rows)
        let cache = PoolWidthCache(directory: cli.root.appendingPathComponent("cache/pool-width"))
        let file = try cache.store(PoolWidthRecord(key: key, width: 3, reason: "written by the test", measurements: [],
                                                   trainingRows: 34, date: "2026-01-01T00:00:00Z"))

        let run = try cli.run(Self.command(data, study: "cached"))
        #expect(run.status == 0, "\(run.stderr)")
        #expect(!run.stderr.contains("measuring"), "\(run.stderr)")
        #expect(run.stderr.contains("population 3 (measured earlier for this device, cached in \(file.path))"), "\(run.stderr)")
        #expect(try Self.storedPopulation(cli, study: "cached") == 3)

        let given = try cli.run(Self.command(data, study: "given") + ["--population", "2"])
        #expect(given.status == 0, "\(given.stderr)")
        #expect(given.stderr.contains("population 2, "), "\(given.stderr)")
        #expect(try Self.storedPopulation(cli, study: "given") == 2)
    }

    /// An empty cache: the sweep runs (one line per width on stderr), its width is written to the cache and
    /// used; a second study reads it back; a resumed study keeps its own width when the cache says otherwise.
    @Test func anEmptyCacheIsMeasuredAndWritten() throws {
        let cli = try CLI()
        let data = try Self.writeData(cli)
        let first = try cli.run(Self.command(data, study: "first"))
        #expect(first.status == 0, "\(first.stderr)")
        let folder = cli.root.appendingPathComponent("cache/pool-width")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".json") }
        try #require(files.count == 1, "\(files)")
        let file = folder.appendingPathComponent(files[0])
        #expect(first.stderr.contains("measuring the pool width for this device"), "\(first.stderr)")
        #expect(first.stderr.contains("cached in \(file.path)"))
        #expect(first.stderr.contains("  pool width 8: "), "\(first.stderr)")
        let record = try JSONDecoder().decode(PoolWidthRecord.self, from: Data(contentsOf: file))
        #expect(record.measurements.first?.width == 8 && record.trainingRows == 34)
        #expect(first.stderr.contains("population \(record.width) (measured for this device, cached in \(file.path))"), "\(first.stderr)")
        #expect(try Self.storedPopulation(cli, study: "first") == record.width)

        let second = try cli.run(Self.command(data, study: "second") + ["--json"])
        #expect(second.status == 0 && !second.stderr.contains("measuring"), "\(second.stderr)")
        #expect(try Self.storedPopulation(cli, study: "second") == record.width)

        var changed = record
        changed.width = record.width + 5
        try JSONEncoder().encode(changed).write(to: file)
        let resumed = try cli.run(Self.command(data, study: "first", trials: 4) + ["--resume"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("population \(record.width) (the study's own, as it started)"), "\(resumed.stderr)")
    }

    /// `--batch`: the study streams its mini-batch trials through the pool (each trial through its own epochs'
    /// shuffles), stores the batch size, and refuses to continue with another one.
    @Test func miniBatchStudiesStreamAndKeepTheirBatchSize() throws {
        let cli = try CLI()
        let data = try Self.writeData(cli)
        let run = try cli.run(Self.command(data, study: "mini", trials: 5) + ["--batch", "8", "--population", "2", "--json"])
        #expect(run.status == 0, "\(run.stderr)")
        let pool = (run.json as? [String: Any])?["pool"] as? [String: Any]
        #expect((pool?["candidatesTrained"] as? Int ?? 0) >= 1, "trials went through the slot pool: \(run.stdout)")
        // 34 training rows in batches of 8: 5 steps an epoch.
        #expect(((pool?["steps"] as? Int) ?? 1) % 5 == 0, "\(run.stdout)")
        let store = try SQLiteStudyStore(path: cli.root.appendingPathComponent("runs/mini/study.sqlite").path, studyName: "mini")
        #expect(try store.settings(as: AlaCarteSettings.self)?.training.batchSize == 8)

        let more = try cli.run(Self.command(data, study: "mini", trials: 6) + ["--batch", "8", "--population", "2"])
        #expect(more.status == 0 && more.stderr.contains("population 2, mini-batches of 8, "), "\(more.stderr)")
        let other = try cli.run(Self.command(data, study: "mini", trials: 7) + ["--batch", "16", "--population", "2", "--resume"])
        #expect(other.status != 0)
        #expect(other.stderr.contains("batch"), "\(other.stderr)")
    }
}
