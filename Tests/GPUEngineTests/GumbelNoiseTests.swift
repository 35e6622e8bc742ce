import Foundation
import Testing
import Kernels
@testable import GPUEngine

/// Gumbel-softmax's noise on the device (mlp_common.cl's `af_gumbel`, which the MLP and CNN trainers share)
/// against the host's `CounterRNG.openUniform`: the same uniform, and a finite sample for every key,
/// the top 24-bit draw included (it rounded to u = 1 and made training diverge with a NaN loss).
@Suite struct GumbelNoiseTests {
    /// A trainer's program (its mlp_fastmath.cl and mlp_common.cl included) and a kernel that draws one sample
    /// per key.
    static let program = Result {
        let trainer = PopulationTrainer(device: RuntimeFixture.device)
        let pop = try PopulationProgram(candidates: [Candidate(activations: [.x])], tile: TileShape(rows: 4, vectorWidth: 4, vectors: 1),
                                        activationSource: trainer.activationSource)
        return try RuntimeFixture.device.program(source: pop.source + """

            __kernel void gumbel_probe(__global const uint* keys, __global float* out) {
                const int i = get_global_id(0);
                out[i] = af_gumbel(keys[i]);
            }
            """)
    }

    /// The inverse of `CounterRNG.mix32` (lowbias32: two xor-shifts and two odd multiplications, each a bijection).
    static func unmix32(_ y: UInt32) -> UInt32 {
        func unshift(_ v: UInt32, _ s: UInt32) -> UInt32 {
            var x = v
            for _ in 0...(32 / s) { x = v ^ (x >> s) }
            return x
        }
        func inverse(_ a: UInt32) -> UInt32 {  // Newton's iteration for the inverse of an odd number mod 2^32
            var x = a
            for _ in 0..<5 { x = x &* (2 &- a &* x) }
            return x
        }
        var x = unshift(y, 16)
        x = x &* inverse(0x846C_A68B)
        x = unshift(x, 15)
        x = x &* inverse(0x7FEB_352D)
        return unshift(x, 16)
    }

    /// A key whose hash draws `k` (its top 24 bits), as `af_gumbel` hashes it.
    static func key(drawing k: UInt32) -> UInt32 { unmix32(k << 8 | 0x5A) ^ 0x68E3_1DA4 }

    @Test func everyDrawIsFiniteAndTheHostsUniform() throws {
        let program = try Self.program.get()
        let extremes: [UInt32] = [0xFF_FFFF, 0xFF_FFFE, 0x80_0000, 0x7F_FFFF, 1, 0]
        for k in extremes {
            #expect(CounterRNG.mix32(Self.key(drawing: k) ^ 0x68E3_1DA4) >> 8 == k, "the key for draw \(k)")
        }
        var keys = extremes.map { Self.key(drawing: $0) }
        var h: UInt32 = 12345
        for _ in 0..<4090 { h = CounterRNG.mix32(h &+ 0x9E37_79B9); keys.append(h) }
        let device = RuntimeFixture.device
        let input = try device.buffer(keys), output = try device.buffer(Float.self, count: keys.count)
        try program.kernel("gumbel_probe").launch(global: [keys.count], args: input, output).wait()
        let samples = try output.download()
        for (key, sample) in zip(keys, samples) {
            let u = CounterRNG.openUniform(CounterRNG.mix32(key ^ 0x68E3_1DA4))
            #expect(u > 0 && u < 1 && Double(Float(u)) == u, "u = \(u) for key \(key)")
            let expected = -log(-log(u))
            #expect(sample.isFinite && abs(Double(sample) - expected) <= 2e-5 * max(1, abs(expected)),
                    "key \(key): device \(sample), host \(expected)")
        }
        // The top draw: the largest float below 1, whose sample is -log(-log(1 - 2^-24)) ≈ 16.64.
        #expect(abs(Double(samples[0]) - 16.635532) < 1e-4, "top draw: \(samples[0])")
    }
}
