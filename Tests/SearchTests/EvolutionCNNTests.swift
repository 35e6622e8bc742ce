import Datasets
import Foundation
import GPUEngine
import Kernels
import Testing
@testable import Search

/// Evolution for a CNN (`Study2Recipe.architecture`) on the OpenCL CNN population trainer (PoCL here), on a
/// tiny IDX image set the test writes: every generation's networks train as one CNN population, every
/// evaluation lands in the study store, and a run killed mid-way resumes from it without retraining.
@Suite(.serialized) struct EvolutionCNNTests {
    /// Three slots (input, hidden, output stage) on 12×12 images: 10×10×4 → 5×5×4 → 3×3×4 → 36 → 8 → 3.
    static let spec = "conv3x3:4,pool2,conv3x3:4,flatten,fc:8,fc:3"

    /// `count` 12×12 images in 3 classes (a horizontal bar, a vertical bar, the diagonal) over faint noise,
    /// as an IDX pair `tiny-images-idx3-ubyte` / `tiny-labels-idx1-ubyte` in `folder`.
    static func writeBarsIDX(in folder: URL, count: Int = 90) throws -> URL {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let side = 12
        var images: [UInt8] = [0, 0, 8, 3] + [count, side, side].flatMap(Self.bigEndian)
        var labels: [UInt8] = [0, 0, 8, 1] + Self.bigEndian(count)
        for i in 0..<count {
            let k = i % 3, p = 2 + (i * 5) % 8
            var pixels = (0..<(side * side)).map { UInt8(($0 * 37 + i * 11) % 20) }
            for t in 0..<side {
                switch k {
                case 0: pixels[p * side + t] = 255
                case 1: pixels[t * side + p] = 255
                default: pixels[t * side + t] = 255
                }
            }
            images += pixels
            labels.append(UInt8(k))
        }
        let url = folder.appendingPathComponent("tiny-images-idx3-ubyte")
        try Data(images).write(to: url)
        try Data(labels).write(to: folder.appendingPathComponent("tiny-labels-idx1-ubyte"))
        return url
    }

    static func bigEndian(_ v: Int) -> [UInt8] { [UInt8(v >> 24 & 255), UInt8(v >> 16 & 255), UInt8(v >> 8 & 255), UInt8(v & 255)] }

    static func recipe(_ idx: URL) -> Study2Recipe {
        Study2Recipe(dataset: idx.path, epochs: 2, learningRate: 0.01, batchFraction: 0.5, finalEpochs: 3,
                     train1Rows: 40, train2Rows: 20, testRows: 12, dataSeed: 1, architecture: spec)
    }

    struct SimulatedKill: Error {}

    /// The CNN backend on the device; with `killAtCall` its trainer throws on that call (0-based), as a
    /// process killed while training would stop.
    static func backend(killAtCall: Int? = nil) throws -> (Study2TrainingBackend, @Sendable () -> Int) {
        let trainer = PopulationCNNTrainer(device: try ComputeDevice.select(nil), cache: cache)
        let architecture = try NetworkArchitecture.named(spec)
        let calls = LockedCounter()
        let backend = Study2TrainingBackend(architecture: architecture, deviceDescription: trainer.device.info.name) {
            let call = calls.next()
            if call == killAtCall { throw SimulatedKill() }
            return try trainer.train(candidates: $0, architecture: $1, config: $2, train: $3, validation: $4, test: $5)
        }
        return (backend, { calls.value })
    }

    /// One in-memory program cache for the suite: the final retraining's program is built once.
    static let cache = ProgramCache(directory: nil)

    final class LockedCounter: @unchecked Sendable {
        private let lock = NSLock()
        private var count = 0
        func next() -> Int { lock.withLock { defer { count += 1 }; return count } }
        var value: Int { lock.withLock { count } }
    }

    @Test func recipeKeepsImagesAndRejectsWhatACNNCannotTrain() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("afsearch-evo-cnn-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let idx = try Self.writeBarsIDX(in: folder)
        let data = try Self.recipe(idx).load()
        #expect(data.imageShape == [1, 12, 12])
        #expect(data.search.train.imageShape == [1, 12, 12] && data.final.test.imageShape == [1, 12, 12])
        var fcn = Self.recipe(idx)
        fcn.architecture = nil
        #expect(try fcn.load().search.train.imageShape == nil)  // the FCN still sees flat rows

        func problem(_ change: (inout Study2Recipe) -> Void) -> String {
            var r = Self.recipe(idx)
            change(&r)
            do { _ = try r.load(); return "" } catch { return "\(error)" }
        }
        #expect(problem { $0.architecture = "conv3x3:4,pool2,flatten,fc:3" }.contains("has 1 activation slot(s); evolution needs exactly 3"))
        #expect(problem { $0.architecture = "fc:8,fc:8,fc:8,fc:3" }.contains("has no convolution"))
        #expect(problem { $0.architecture = "conv9x9:4,pool2,conv3x3:4,flatten,fc:8,fc:3" }
            .contains("does not fit the 1×12×12 images"))
        #expect(problem { $0.architecture = "cnn" }.contains("ends in fc:10 but"))
        let csv = folder.appendingPathComponent("table.csv")
        try "a,b,label\n1,2,x\n2,1,y\n1,1,x\n2,2,y\n".write(to: csv, atomically: true, encoding: .utf8)
        #expect(problem { $0.dataset = csv.path }.contains("needs an image dataset"))
    }

    @Test func aKilledCNNEvolutionRecordsItsEvaluationsAndResumes() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("afsearch-evo-cnn-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let idx = try Self.writeBarsIDX(in: folder)
        let run = folder.appendingPathComponent("run")
        let path = run.appendingPathComponent("study.sqlite").path
        let settings = EvolutionSettings(method: .single, genome: .cgp, generations: 2, population: 2, seed: 5)

        // killed at the second trainer call: generation 0 is committed, what came after is lost
        let (dying, _) = try Self.backend(killAtCall: 1)
        var completed: [Int] = []
        do {
            let store = try SQLiteStudyStore(path: path, studyName: "cnn")
            _ = try await EvolutionJob(settings: settings, recipe: Self.recipe(idx), backend: dying, store: store, folder: run)
                .run(progress: { completed.append($0.generation) })
            Issue.record("the simulated kill did not happen")
        } catch is SimulatedKill {}
        try #require(completed.first == 0)
        let store = try SQLiteStudyStore(path: path, studyName: "cnn")
        let before = try store.trials()
        #expect(before.count == completed.count * settings.networks(inGeneration: 0))
        #expect(before.allSatisfy { ($0.objective ?? -1) >= 0 && ($0.objective ?? 2) <= 1 })

        // a new process: fresh store handle and trainer
        let (survivor, calls) = try Self.backend()
        let result = try await EvolutionJob(settings: settings, recipe: Self.recipe(idx), backend: survivor, store: store, folder: run).run()
        #expect(result.history.map(\.replayed) == (0..<2).map { completed.contains($0) })
        // trained now: only the generations the kill lost (when they had anything new to train) and the final retraining
        #expect(calls() == result.history.filter { !$0.replayed && $0.trained > 0 }.count + 1)
        #expect(try store.trials().count == result.networksEvaluated)
        #expect(result.network == nil)  // not the FCN
        let test = try #require(result.finalTest)
        #expect(test.epochs == 3)
        #expect((0...1).contains(test.testAccuracy) && (0...1).contains(result.standardTest?.testAccuracy ?? -1))
        #expect((0...1).contains(result.bestFitness))
        #expect(try EvolutionResult.read(from: run).best == result.best)
    }
}
