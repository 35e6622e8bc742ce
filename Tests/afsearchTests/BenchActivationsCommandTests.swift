import Foundation
import Testing

/// `afsearch bench activations` on a short menu with one of each path (slopes, kept Z with a learnable
/// parameter and with noise, layer-wise) and a few passes: every function is timed and its values were checked
/// against the Swift reference on the device (a mismatch fails the command).
@Suite struct BenchActivationsCommandTests {
    @Test func timesEachPathAndChecksTheValues() throws {
        let cli = try CLI()
        let result = try cli.run(["bench", "activations", "--menu", "relu,sin,digamma,prelu(x; a=0.25),rrelu,softmax",
                                  "--passes", "3", "--repetitions", "1", "--json"], timeout: 300)
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(result.json as? [String: Any], "\(result.stdout)")
        let costs = try #require(report["costs"] as? [[String: Any]])
        #expect(costs.map { $0["name"] as? String } == ["relu", "sin", "digamma", "prelu(x; a=0.25)", "rrelu", "softmax"])
        #expect(costs.map { $0["path"] as? String } == ["slopes", "slopes", "slopes", "kept Z", "kept Z", "layer-wise"])
        for cost in costs {
            let train = try #require(cost["trainNanoseconds"] as? Double), evaluate = try #require(cost["evaluateNanoseconds"] as? Double)
            #expect(train.isFinite && evaluate.isFinite, "\(cost)")
        }
        #expect(report["spanElements"] as? Int == 256)
    }

    /// The spans are the CPU fused pass's: under the GPU profile (a GPU's 4-column tiles) the command says so.
    @Test func theGPUProfileIsRefusedWithItsTile() throws {
        let result = try CLI().run(["bench", "activations", "--menu", "relu", "--passes", "1"], environment: ["AFSEARCH_PROFILE": "gpu"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("under the gpu profile this device's tile is"), "\(result.stderr)")
    }

    @Test func anUnknownMenuEntryFailsCleanly() throws {
        let result = try CLI().run(["bench", "activations", "--menu", "relu,nosuchfunction(x)"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("--menu: 'nosuchfunction(x)'"), "\(result.stderr)")
    }
}
