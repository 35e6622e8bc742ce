import Foundation
import Testing
import Kernels
import Datasets
@testable import GPUEngine

/// The pool width that fills the device: the sweep's rule on given rates, one real sweep on a tiny workload,
/// and the cache's key and files.
@Suite(.serialized) struct PoolWidthTests {
    static let spec = try! MLPSpec(widths: [6, 16, 12, 3], lastLayerActivation: true)
    static let vocabulary: [ActivationExpr] = [.unary(.tanh, .x), .unary(.relu, .x), .layerwise(.softmax)]
    static let config = TrainingConfig(epochs: 50, learningRate: 0.01, optimizer: .adam(), seed: 3,
                                       earlyStopping: EarlyStopping(patience: 2, minImprovement: 0.01), evaluateEveryEpoch: true)
    /// Small enough that a whole sweep takes well under a second.
    static let sweep = PoolWidthSweep(rule: PoolWidthRule(cap: 32), epochs: 2, minimumSeconds: 0.01)

    static func trainer(_ vocabulary: [ActivationExpr] = vocabulary) -> PopulationTrainer {
        let t = PopulationTrainer(device: TrainerFixture.device)
        t.vocabulary = vocabulary
        return t
    }

    static func m(_ width: Int, _ rate: Double, _ seconds: Double = 0.1) -> PoolWidthMeasurement {
        PoolWidthMeasurement(width: width, candidateEpochsPerSecond: rate, seconds: seconds)
    }

    @Test func ruleDoublesWhileTheGainPaysAndPicksTheLastWidthThatPaid() {
        let rule = PoolWidthRule()  // start 8, gain ≥ 10 %, cap 4096, 20 s
        let big = Int.max
        #expect(rule.verdict([], fit: big) == .measure(8))
        #expect(rule.verdict([], fit: 5) == .measure(5), "a device that holds fewer starts there")
        #expect(rule.verdict([Self.m(8, 100)], fit: big) == .measure(16))
        #expect(rule.verdict([Self.m(8, 100), Self.m(16, 150)], fit: big) == .measure(32))
        #expect(rule.verdict([Self.m(8, 100), Self.m(16, 110)], fit: big) == .measure(32), "exactly 10 % still pays")
        guard case .stop(16, .smallGain(let gain)) = rule.verdict([Self.m(8, 100), Self.m(16, 180), Self.m(32, 190)], fit: big)
        else { Issue.record("a 5.6 % gain stops at the width before it"); return }
        #expect(abs(gain - 0.0556) < 0.001)
        guard case .stop(8, .smallGain(let loss)) = rule.verdict([Self.m(8, 100), Self.m(16, 80)], fit: big), loss < 0
        else { Issue.record("a loss stops at once"); return }
        // Bounds: memory, the cap, the time budget; a partial last doubling up to what fits.
        #expect(rule.verdict([Self.m(8, 100), Self.m(16, 200)], fit: 24) == .measure(24))
        #expect(rule.verdict([Self.m(8, 100), Self.m(16, 200), Self.m(24, 260)], fit: 24) == .stop(width: 24, reason: .memory))
        #expect(PoolWidthRule(cap: 16).verdict([Self.m(8, 100), Self.m(16, 200)], fit: big) == .stop(width: 16, reason: .cap))
        #expect(rule.verdict([Self.m(8, 100, 4), Self.m(16, 200, 7)], fit: big) == .stop(width: 16, reason: .timeBudget))
        #expect(rule.verdict([Self.m(8, 100, 4), Self.m(16, 200, 5)], fit: big) == .measure(32))
    }

    /// A real sweep on PoCL: widths double from 8 within the cap, each measured with a positive rate, and the
    /// pick is what the rule says of those rates; a trainer whose memory holds 12 networks stops at 12.
    @Test func sweepOnATinyWorkloadStaysInBoundsAndFollowsTheRule() throws {
        let train = TrainerFixture.data(rows: 40, seed: 5)
        var seen: [PoolWidthMeasurement] = []
        let result = try Self.sweep.run(trainer: Self.trainer(), spec: Self.spec, config: Self.config, train: train) { seen.append($0) }
        #expect(seen == result.measurements)
        #expect(!seen.isEmpty && seen.allSatisfy { $0.candidateEpochsPerSecond > 0 && $0.seconds > 0 })
        #expect(seen.map(\.width) == Array([8, 16, 32].prefix(seen.count)))
        #expect((8...32).contains(result.width) && seen.map(\.width).contains(result.width))
        #expect(Self.sweep.rule.verdict(seen, fit: .max) == .stop(width: result.width, reason: result.reason))

        let small = Self.trainer()
        small.maxChunkSize = 12
        let bounded = try PoolWidthSweep(rule: PoolWidthRule(minimumGain: -1), epochs: 1, minimumSeconds: 0.01)
            .run(trainer: small, spec: Self.spec, config: Self.config, train: train)
        #expect(bounded.measurements.map(\.width) == [8, 12])
        #expect(bounded.width == 12 && bounded.reason == .memory)
    }

    /// Keyed by device, program (menu), network and training rows in powers of two; a record round-trips; a
    /// corrupt or foreign file is ignored; `width` measures once, stores, and then answers from the file.
    @Test func cacheRoundTripsMissesOnAnotherKeyAndIgnoresACorruptFile() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("afsearch-pool-width-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let cache = PoolWidthCache(directory: folder)
        let trainer = Self.trainer()
        let train = TrainerFixture.data(rows: 40, seed: 7)
        func key(_ t: PopulationTrainer = trainer, spec: MLPSpec = Self.spec, rows: Int = 40) throws -> String {
            try PoolWidthCache.keyText(trainer: t, spec: spec, config: Self.config,
                                       train: rows == 40 ? train : TrainerFixture.data(rows: rows, seed: 7), sweep: Self.sweep)
        }
        let mine = try key()
        #expect(mine.contains("device: \(TrainerFixture.device.info.name)") && mine.contains("training rows: up to 64"))
        #expect(try key(rows: 33) == mine, "33 and 40 rows share the bucket of 64")
        #expect(try key(rows: 65) != mine)
        #expect(try key(spec: MLPSpec(widths: [6, 16, 16, 3], lastLayerActivation: true)) != mine, "another network")
        #expect(try key(Self.trainer([.unary(.tanh, .x), .unary(.sigmoid, .x)])) != mine, "another menu: another program")
        #expect(PoolWidthCache.rowBucket(1) == 1 && PoolWidthCache.rowBucket(1024) == 1024 && PoolWidthCache.rowBucket(1025) == 2048)

        let record = PoolWidthRecord(key: mine, width: 24, reason: "test", measurements: [Self.m(8, 10)], trainingRows: 40,
                                     date: "2026-01-01T00:00:00Z")
        #expect(cache.record(key: mine) == nil)
        let file = try cache.store(record)
        #expect(file.deletingLastPathComponent().path.hasPrefix(folder.path) && file.pathExtension == "json")
        #expect(cache.record(key: mine) == record)
        #expect(cache.record(key: try key(rows: 65)) == nil)
        var reported: [PoolWidthEvent] = []
        let hit = try cache.width(trainer: trainer, spec: Self.spec, config: Self.config, train: train, sweep: Self.sweep) { reported.append($0) }
        #expect(hit.width == 24 && hit.origin == .cached && hit.file == file && reported.isEmpty)
        #expect(hit.source == "measured earlier for this device, cached in \(file.path)")

        // Another key's record under this file name, then garbage: ignored, and `width` measures and stores again.
        var foreign = record
        foreign.key = try key(rows: 65)
        try JSONEncoder().encode(foreign).write(to: file)
        #expect(cache.record(key: mine) == nil)
        try Data("not json".utf8).write(to: file)
        #expect(cache.record(key: mine) == nil)
        let measured = try cache.width(trainer: trainer, spec: Self.spec, config: Self.config, train: train, sweep: Self.sweep) {
            reported.append($0)
        }
        #expect(measured.origin == .measured && measured.file == file && (8...32).contains(measured.width))
        if case .measuring(let announced) = reported.first { #expect(announced == file) } else { Issue.record("no announcement") }
        #expect(reported.dropFirst().allSatisfy { if case .measured = $0 { true } else { false } })
        #expect(cache.record(key: mine)?.width == measured.width && cache.record(key: mine)?.trainingRows == 40)
        #expect(try cache.width(trainer: trainer, spec: Self.spec, config: Self.config, train: train, sweep: Self.sweep).origin == .cached)

        #expect(PoolWidthCache.defaultDirectory(environment: ["AFSEARCH_CACHE": "/tmp/x"])?.path == "/tmp/x/pool-width")
        #expect(PoolWidthCache.defaultDirectory(environment: ["HOME": "/home/u"])?.path == "/home/u/.cache/afsearch/pool-width")
        let none = PoolWidthCache(directory: nil)
        #expect(none.record(key: mine) == nil)
        #expect(throws: TrainerError.self) { try none.store(record) }
    }
}
