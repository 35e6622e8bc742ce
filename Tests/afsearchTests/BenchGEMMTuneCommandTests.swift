import Foundation
import Testing

/// `afsearch bench gemm --tune` on a tiny budget: the reference and one more variant of the sweep, study 1's
/// workload cut down to a few candidates and rows; it reports both, and writes the winner into the tuning
/// cache under the run's AFSEARCH_CACHE (beside the program cache).
@Suite struct BenchGEMMTuneCommandTests {
    @Test func tuneOnATinyBudgetWritesTheCache() throws {
        let cli = try CLI()
        let result = try cli.run(["bench", "gemm", "--tune", "--tune-budget", "2", "--tune-population", "3",
                                  "--tune-samples", "40", "--tune-epochs", "1", "--json"], timeout: 300)
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(result.json as? [String: Any], "\(result.stdout)")
        let measurements = try #require(report["measurements"] as? [[String: Any]])
        #expect(measurements.count == 2)
        #expect(measurements.allSatisfy { $0["matchesReference"] as? Bool == true })
        #expect(report["winner"] != nil)
        let file = try #require(report["cacheFile"] as? String)
        let folder = cli.root.appendingPathComponent("cache/gemm-tuning").path
        #expect(file.hasPrefix(folder), "\(file)")
        let stored = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as? [String: Any])
        #expect((stored["key"] as? String)?.contains("driver: ") == true)
    }

    /// The CNN's GEMMs on the CNN benchmark's workload cut down to two candidates and eight images: its own
    /// cache entry, keyed by the network as well.
    @Test func tuneTheCNNOnATinyBudgetWritesItsOwnCacheEntry() throws {
        let cli = try CLI()
        let result = try cli.run(["bench", "gemm", "--tune", "--tune-network", "cnn", "--tune-budget", "2", "--tune-population", "2",
                                  "--tune-samples", "8", "--tune-epochs", "1", "--json"], timeout: 300)
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(result.json as? [String: Any], "\(result.stdout)")
        #expect(report["network"] as? String == "cnn")
        let measurements = try #require(report["measurements"] as? [[String: Any]])
        #expect(measurements.count == 2)
        #expect(measurements.allSatisfy { $0["matchesReference"] as? Bool == true && ($0["gflops"] as? Double ?? 0) > 0 })
        let file = try #require(report["cacheFile"] as? String)
        let stored = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as? [String: Any])
        #expect((stored["key"] as? String)?.contains("network: cnn") == true)
    }

    @Test func tuneBudgetMustBePositive() throws {
        let result = try CLI().run(["bench", "gemm", "--tune", "--tune-budget", "0"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("--tune-budget must be at least 1, got 0"), "\(result.stderr)")
    }
}
