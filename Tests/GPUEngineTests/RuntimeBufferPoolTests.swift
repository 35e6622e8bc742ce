import Testing
@testable import GPUEngine

/// Released buffers' memory serves later buffers of about the same size, and what a new owner writes is
/// what it reads.
@Suite(.serialized) struct RuntimeBufferPoolTests {
    @Test func releasedMemoryIsReusedAndOwnersSeeTheirOwnData() throws {
        let device = RuntimeFixture.device
        // An odd size no other test allocates, so parallel tests cannot take it in between.
        let n = 3 * 65_537
        var first: DeviceBuffer<Float>? = try device.buffer(Float.self, count: n)
        try first!.fill(7)
        let hits = device.bufferPool.hits
        first = nil
        let second = try device.buffer(Float.self, count: n)
        #expect(device.bufferPool.hits == hits + 1)
        try second.fill(0, 0..<1000)
        try second.upload([1, 2, 3], at: 1000)
        let values = try second.download()
        #expect(values[0..<1000].allSatisfy { $0 == 0 } && Array(values[1000..<1003]) == [1, 2, 3])
        // A buffer made from host values always gets exactly those values.
        let third = try device.buffer([Float](repeating: 5, count: n))
        #expect(try third.download().allSatisfy { $0 == 5 })
    }
}
