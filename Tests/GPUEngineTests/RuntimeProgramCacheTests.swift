import Foundation
import Testing
@testable import GPUEngine
import Kernels

@Suite struct RuntimeProgramCacheTests {
    let device = RuntimeFixture.device

    /// A distinct, tiny program per test so the tests never share cache entries: y[i] = x[i] * scale + offset.
    static func source(offset: Int) -> String {
        """
        __kernel void affine(const int n, const float scale, __global const float* x, __global float* y) {
            int i = get_global_id(0);
            if (i < n) y[i] = x[i] * scale + \(offset).0f;
        }
        """
    }

    /// Runs `affine` from `program` and checks it against Swift.
    func checkAffine(_ program: ComputeProgram, offset: Int) throws {
        let n = 300
        let x = RuntimeFixture.values(n, seed: UInt32(offset)), xBuffer = try device.buffer(x)
        let yBuffer = try device.buffer(Float.self, count: n)
        try program.kernel("affine").launch(global: [n], args: Int32(n), Float(0.5), xBuffer, yBuffer).wait()
        #expect(RuntimeFixture.maxRelativeError(try yBuffer.download(), x.map { $0 * 0.5 + Float(offset) }) <= 1e-6)
    }

    func cacheFiles(_ folder: URL) throws -> [URL] {
        try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil).filter { $0.pathExtension == "clbin" }
    }

    @Test func secondRequestIsAMemoryHitAndANewProcessIsADiskHit() throws {
        let folder = try RuntimeFixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = Self.source(offset: 11)
        let cache = ProgramCache(directory: folder, binaries: .always)
        let first = try cache.program(source: source, device: device)
        let second = try cache.program(source: source, device: device)
        #expect(first === second)
        #expect(cache.counters.builds == 1 && cache.counters.memoryHits == 1 && cache.counters.diskHits == 0)
        #expect(try cacheFiles(folder).count == 1)

        let fresh = ProgramCache(directory: folder, binaries: .always)  // what a second process sees
        let fromDisk = try fresh.program(source: source, device: device)
        #expect(fresh.counters == ProgramCache.Counters(builds: 0, memoryHits: 0, diskHits: 1))
        try checkAffine(fromDisk, offset: 11)
        // Argument checks survive the binary round trip (PoCL keeps argument info in its binaries).
        if device.info.platformName.contains("Portable Computing Language") {
            #expect(try fromDisk.kernel("affine").declared?.map(\.type) == ["int", "float", "float*", "float*"])
        }
    }

    /// By default a driver that caches its own source builds (PoCL) gets no binary files: asking it for one
    /// compiles every kernel again. Another process builds from source (PoCL's cache answers).
    @Test func defaultStorageLeavesPoCLProgramsToPoCLsCache() throws {
        let folder = try RuntimeFixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let source = Self.source(offset: 12)
        let cache = ProgramCache(directory: folder)
        try checkAffine(try cache.program(source: source, device: device), offset: 12)
        let pocl = device.info.cachesSourceBuilds
        #expect(pocl == device.info.platformName.contains("Portable Computing Language"))
        #expect(cache.storesBinaries(of: device.info) == !pocl)
        #expect(try cacheFiles(folder).count == (pocl ? 0 : 1))
        let fresh = ProgramCache(directory: folder)
        try checkAffine(try fresh.program(source: source, device: device), offset: 12)
        #expect(fresh.counters.builds == (pocl ? 1 : 0) && fresh.counters.diskHits == (pocl ? 0 : 1))
        #expect(!ProgramCache(directory: nil, binaries: .always).storesBinaries(of: device.info))
    }

    @Test func changedSourceOrOptionsMiss() throws {
        let folder = try RuntimeFixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let cache = ProgramCache(directory: folder, binaries: .always)
        let base = try cache.program(source: Self.source(offset: 21), device: device)
        let changedSource = try cache.program(source: Self.source(offset: 22), device: device)
        let changedOptions = try cache.program(source: Self.source(offset: 21), options: "-cl-fast-relaxed-math", device: device)
        #expect(cache.counters.builds == 3 && cache.counters.memoryHits == 0)
        #expect(base !== changedSource && base !== changedOptions)
        #expect(changedOptions.options == "-cl-fast-relaxed-math")
        #expect(try cacheFiles(folder).count == 3)
        try checkAffine(changedSource, offset: 22)
    }

    @Test(arguments: ["flipped", "truncated", "garbage", "otherKey"])
    func damagedCacheFileIsRebuiltAndStillRight(damage: String) throws {
        let folder = try RuntimeFixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let offset = 31 + ["flipped", "truncated", "garbage", "otherKey"].firstIndex(of: damage)!
        let source = Self.source(offset: offset)
        _ = try ProgramCache(directory: folder, binaries: .always).program(source: source, device: device)
        let file = try #require(ProgramCache(directory: folder, binaries: .always).fileURL(source: source, options: "", device: device))
        var bytes = [UInt8](try Data(contentsOf: file))
        switch damage {
        case "flipped": bytes[bytes.count / 2] ^= 0xFF
        case "truncated": bytes.removeLast(bytes.count / 3)
        case "garbage": bytes = Array("not a program".utf8)
        default:  // a complete, intact file whose key belongs to another request
            let cache = ProgramCache(directory: nil)
            bytes = ProgramCache.encode(keyText: cache.keyText(source: Self.source(offset: 99), options: "", device: device),
                                        binary: Array(bytes[bytes.count / 2 ..< bytes.count]))
        }
        try Data(bytes).write(to: file)

        let fresh = ProgramCache(directory: folder, binaries: .always)
        let rebuilt = try fresh.program(source: source, device: device)
        #expect(fresh.counters.diskRejected == 1 && fresh.counters.builds == 1 && fresh.counters.diskHits == 0)
        try checkAffine(rebuilt, offset: offset)
        // The rebuilt file replaced the damaged one and is a disk hit for the next process.
        let third = ProgramCache(directory: folder, binaries: .always)
        _ = try third.program(source: source, device: device)
        #expect(third.counters.diskHits == 1 && third.counters.builds == 0)
    }

    @Test func unwritableFolderIsNotFatal() throws {
        let folder = try RuntimeFixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let blocker = folder.appendingPathComponent("file")
        try Data("x".utf8).write(to: blocker)
        let cache = ProgramCache(directory: blocker.appendingPathComponent("programs"), binaries: .always)  // a folder under a file
        try checkAffine(try cache.program(source: Self.source(offset: 41), device: device), offset: 41)
        #expect(cache.counters.builds == 1 && cache.counters.diskWriteFailures == 1)
    }

    @Test func memoryTierDropsTheLeastRecentlyUsed() throws {
        let cache = ProgramCache(directory: nil, memoryCapacity: 2)
        let (a, b, c) = (Self.source(offset: 61), Self.source(offset: 62), Self.source(offset: 63))
        let programA = try cache.program(source: a, device: device)
        _ = try cache.program(source: b, device: device)
        _ = try cache.program(source: a, device: device)  // A is now more recent than B
        _ = try cache.program(source: c, device: device)  // evicts B
        #expect(cache.memoryCount == 2)
        #expect(try cache.program(source: a, device: device) === programA)
        #expect(cache.counters.builds == 3 && cache.counters.memoryHits == 2)
        _ = try cache.program(source: b, device: device)  // B was dropped: compiled again
        #expect(cache.counters.builds == 4)
        try checkAffine(programA, offset: 61)  // an evicted-or-not program stays usable while referenced
    }

    @Test func concurrentRequestsShareOneBuild() async throws {
        let cache = ProgramCache(directory: nil)
        let source = Self.source(offset: 51)
        let device = self.device
        let programs = try await withThrowingTaskGroup(of: ComputeProgram.self) { group in
            for _ in 0 ..< 6 { group.addTask { try cache.program(source: source, device: device) } }
            return try await group.reduce(into: [ComputeProgram]()) { $0.append($1) }
        }
        #expect(cache.counters.builds == 1 && cache.counters.memoryHits == 5)
        #expect(programs.allSatisfy { $0 === programs[0] })
    }

    @Test func syntaxErrorCarriesTheLogAndTheLine() throws {
        let source = """
            __kernel void broken(__global float* y) {
                int i = get_global_id(0);
                y[i] = 2.0f * ;
            }
            """
        let cache = ProgramCache(directory: nil)
        do {
            _ = try cache.program(source: source, device: device)
            Issue.record("a syntax error must not build")
        } catch let error as ProgramBuildError {
            #expect(!error.log.isEmpty)
            #expect(error.code == -11)
            #expect(error.pointedLines.map(\.number) == [3])
            #expect(error.pointedLines.first?.text.contains("y[i] = 2.0f * ;") == true)
            #expect(error.description.contains(error.log))
            #expect(error.description.contains("    3 |     y[i] = 2.0f * ;"))
        }
        #expect(cache.counters.builds == 1)
        // A failure is not cached: the next request compiles again.
        #expect(throws: ProgramBuildError.self) { try cache.program(source: source, device: device) }
        #expect(cache.counters.builds == 2)
    }

    @Test func logParserFindsErrorsAndFallsBackToWarnings() {
        let source = "a\nbb\nccc\ndddd"
        let log = """
            <source>:2:1: warning: unused
            <source>:4:3: error: expected ';'
            <source>:4:4: error: again on the same line
            input.cl:3:2: fatal error: missing
            error: /root/.cache/pocl/kcache/tempfile_x.cl:1:5: PoCL puts the kind first
            note: no position here
            """
        let lines = ProgramBuildError.pointedLines(log: log, source: source)
        #expect(lines.map(\.number) == [4, 3, 1])
        #expect(lines[2].message == "error: PoCL puts the kind first")
        #expect(lines[0] == .init(number: 4, column: 3, text: "dddd", message: "error: expected ';'"))
        let warningsOnly = ProgramBuildError.pointedLines(log: "x.cl:2:1: warning: w\nx.cl:99:1: error: out of range", source: source)
        #expect(warningsOnly.map(\.number) == [2])
    }

    @Test func defaultDirectoryFollowsTheEnvironment() {
        #expect(ProgramCache.defaultDirectory(environment: ["AFSEARCH_CACHE": "/c", "HOME": "/h"])?.path == "/c/programs")
        #expect(ProgramCache.defaultDirectory(environment: ["HOME": "/h"])?.path == "/h/.cache/afsearch/programs")
        #expect(ProgramCache.defaultDirectory(environment: [:]) == nil)
    }

    @Test func sha256MatchesPublishedVectors() {
        // FIPS 180-4 examples (one block, two blocks) and the empty message.
        // (swift-crypto's; the cache's file names are its hex digests, so caches written before it still match.)
        #expect(ProgramCache.sha256Hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(ProgramCache.sha256Hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(ProgramCache.sha256Hex([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }
}
