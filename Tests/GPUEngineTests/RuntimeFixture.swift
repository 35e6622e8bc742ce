import Foundation
@testable import GPUEngine
import Kernels

/// Shared by the runtime tests: the default device (PoCL in CI), a memory-only program cache, and the
/// selftest program built once through it. Swift Testing runs tests in parallel threads; everything here
/// is immutable after first use or guarded by the runtime's own locks.
enum RuntimeFixture {
    static let device: ComputeDevice = {
        do { return try ComputeDevice.select(nil) } catch { fatalError("no OpenCL device for the runtime tests: \(error)") }
    }()

    static let memoryCache = ProgramCache(directory: nil)

    static let selftestProgram: ComputeProgram = {
        do { return try device.program(source: KernelTemplates.selftest, cache: memoryCache) } catch {
            fatalError("the selftest template does not build: \(error)")
        }
    }()

    /// A fresh folder under the system temp directory, one per test.
    static func temporaryFolder(_ label: String = #function) throws -> URL {
        let name = "afsearch-runtime-\(label.filter { $0.isLetter || $0.isNumber })-\(UUID().uuidString)"
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(name, isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Deterministic test data without Foundation's random sources (same values on every run).
    static func values(_ count: Int, seed: UInt32) -> [Float] {
        var state = seed &* 2_654_435_761 | 1
        return (0 ..< count).map { _ in
            state ^= state << 13; state ^= state >> 17; state ^= state << 5
            return Float(state % 20_001) / 1000 - 10
        }
    }

    /// Largest |a - b| / max(1, |b|). OpenCL C may contract `a * x + y` into one fused multiply-add
    /// (FP_CONTRACT is on by default) while Swift rounds twice, so device results can differ by an ulp.
    static func maxRelativeError(_ a: [Float], _ b: [Float]) -> Float {
        precondition(a.count == b.count)
        return zip(a, b).map { let e = abs($0 - $1) / max(1, abs($1)); return e.isNaN ? .infinity : e }.max() ?? 0
    }
}
