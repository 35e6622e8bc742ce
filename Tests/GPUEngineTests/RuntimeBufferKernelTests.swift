import Foundation
import Testing
@testable import GPUEngine
import Kernels

@Suite struct RuntimeBufferTests {
    let device = RuntimeFixture.device

    /// 4 MiB and below are staged and enqueued; (1 << 22) + 1 floats are past `stagedUploadLimit` and block.
    @Test(arguments: [1, 7, 64, 4099, 1 << 20, (1 << 22) + 1])
    func roundTripPreservesEveryValue(count: Int) throws {
        let values = RuntimeFixture.values(count, seed: UInt32(count))
        let buffer = try device.buffer(Float.self, count: count)
        try buffer.upload(values)
        #expect(try buffer.download() == values)
        let copy = try device.buffer(values)  // created from host memory
        #expect(try copy.download() == values)
    }

    @Test func integerBuffersFillCopyAndRanges() throws {
        let a = try device.buffer(Array(Int32(0) ..< 100))
        let b = try device.buffer(Int32.self, count: 100)
        try b.fill(-3)
        try b.fill(9, 10 ..< 20)
        #expect(try b.download(8 ..< 22) == [-3, -3] + Array(repeating: 9, count: 10) + [-3, -3])
        try b.copy(from: a, sourceOffset: 50, to: 0, count: 5)
        #expect(try b.download(0 ..< 6) == [50, 51, 52, 53, 54, -3])
        try b.upload([7, 8], at: 98)
        #expect(try b.download(97 ..< 100) == [-3, 7, 8])
        let bytes = try device.buffer([UInt8](repeating: 0xAB, count: 3))
        #expect(try bytes.download() == [0xAB, 0xAB, 0xAB])
    }

    /// Uploads are enqueued: each of many temporary arrays must reach the device after the launch enqueued
    /// before it and before the one after it, although nothing waits between them and every array is gone
    /// when its write runs.
    @Test func stagedUploadsInterleaveWithLaunchesInOrder() throws {
        let n = 257, steps = 120
        let x = try device.buffer(Float.self, count: n), y = try device.buffer([Float](repeating: 0, count: n))
        let saxpy = try RuntimeFixture.selftestProgram.kernel("saxpy")
        var expected = [Float](repeating: 0, count: n)
        for step in 0 ..< steps {
            let values = (0 ..< n).map { Float(($0 * 7 + step * 13) % 31) - 15 }
            try x.upload(values)
            _ = try saxpy.launch(global: [n], args: Int32(n), Float(step % 3 + 1), x, y)
            for i in 0 ..< n { expected[i] = Float(step % 3 + 1) * values[i] + expected[i] }
        }
        #expect(try y.download() == expected)
    }

    @Test func badRangesAndEmptyBuffersAreClearErrors() throws {
        let buffer = try device.buffer(Float.self, count: 4)
        #expect(throws: DeviceBufferError.rangeOutOfBounds(operation: "upload", range: 3 ..< 5, count: 4)) {
            try buffer.upload([1, 2], at: 3)
        }
        #expect(throws: DeviceBufferError.rangeOutOfBounds(operation: "download", range: 2 ..< 6, count: 4)) {
            _ = try buffer.download(2 ..< 6)
        }
        #expect(throws: DeviceBufferError.emptyBuffer(elementType: "Float")) {
            _ = try device.buffer(Float.self, count: 0)
        }
    }
}

@Suite struct RuntimeKernelTests {
    let device = RuntimeFixture.device

    /// Test-only kernels: a 2-D transpose (global [cols, rows]) and a 3-D index pattern.
    static let source = """
        // out[c * rows + r] = in[r * cols + c]   (in: rows x cols, row-major)
        __kernel void transpose(const int rows, const int cols, __global const float* in, __global float* out) {
            int c = get_global_id(0), r = get_global_id(1);
            if (r < rows && c < cols) out[c * rows + r] = in[r * cols + c];
        }
        // volume[(z * ny + y) * nx + x] = x + 100 y + 10000 z
        __kernel void index3d(__global uint* volume) {
            uint x = get_global_id(0), y = get_global_id(1), z = get_global_id(2);
            volume[(z * get_global_size(1) + y) * get_global_size(0) + x] = x + 100u * y + 10000u * z;
        }
        """

    static let program: ComputeProgram = {
        do { return try RuntimeFixture.device.program(source: source, cache: RuntimeFixture.memoryCache) } catch {
            fatalError("runtime test kernels do not build: \(error)")
        }
    }()

    @Test func saxpyMatchesSwiftAndReportsTiming() throws {
        let n = 10_000
        let x = RuntimeFixture.values(n, seed: 1), y = RuntimeFixture.values(n, seed: 2)
        let xBuffer = try device.buffer(x), yBuffer = try device.buffer(y)
        let saxpy = try RuntimeFixture.selftestProgram.kernel("saxpy")
        let event = try saxpy.launch(global: [n + 240], local: [64], args: Int32(n), Float(2.5), xBuffer, yBuffer)
        let timing = try event.timing()
        #expect(timing.endNanoseconds >= timing.startNanoseconds)
        #expect(timing.startNanoseconds >= timing.queuedNanoseconds)
        #expect(timing.seconds >= 0 && timing.seconds < 10)
        let expected = zip(x, y).map { 2.5 * $0 + $1 }
        #expect(RuntimeFixture.maxRelativeError(try yBuffer.download(), expected) <= 1e-6)
    }

    /// A slice is a buffer of its own to kernels and transfers (index 0 = the parent's `offset`), and writes
    /// through it land in the parent and nowhere else.
    @Test func slicesAreWindowsOntoTheirParent() throws {
        let n = 3000, offset = DeviceBuffer<Float>.sliceAlignment / 4, count = 1000
        let parent = try device.buffer(RuntimeFixture.values(n, seed: 4))
        let before = try parent.download()
        let x = RuntimeFixture.values(count, seed: 5)
        var slice: DeviceBuffer<Float>? = try DeviceBuffer(slicing: parent, offset: offset, count: count)
        #expect(try slice!.download() == Array(before[offset ..< offset + count]))
        try RuntimeFixture.selftestProgram.kernel("saxpy")
            .launch(global: [count], args: Int32(count), Float(2), try device.buffer(x), slice!).wait()
        let after = try parent.download()
        let expected = (0 ..< count).map { 2 * x[$0] + before[offset + $0] }
        #expect(RuntimeFixture.maxRelativeError(Array(after[offset ..< offset + count]), expected) <= 1e-6)
        #expect(Array(after[..<offset]) == Array(before[..<offset]))
        #expect(Array(after[(offset + count)...]) == Array(before[(offset + count)...]))
        try slice!.upload([42], at: 999)
        slice = nil  // the parent outlives its slices
        #expect(try parent.download(offset + 999 ..< offset + 1000) == [42])
        #expect(throws: DeviceBufferError.rangeOutOfBounds(operation: "slice", range: 2048 ..< 3048, count: n)) {
            _ = try DeviceBuffer(slicing: parent, offset: 2048, count: 1000)
        }
    }

    @Test func twoDimensionalLaunch() throws {
        let rows = 37, cols = 19
        let input = RuntimeFixture.values(rows * cols, seed: 3)
        let inBuffer = try device.buffer(input), outBuffer = try device.buffer(Float.self, count: rows * cols)
        try Self.program.kernel("transpose").launch(global: [cols, rows], args: Int32(rows), Int32(cols), inBuffer, outBuffer).wait()
        var expected = [Float](repeating: 0, count: rows * cols)
        for r in 0 ..< rows { for c in 0 ..< cols { expected[c * rows + r] = input[r * cols + c] } }
        #expect(try outBuffer.download() == expected)
    }

    @Test func threeDimensionalLaunch() throws {
        let (nx, ny, nz) = (5, 4, 3)
        let volume = try device.buffer(UInt32.self, count: nx * ny * nz)
        try Self.program.kernel("index3d").launch(global: [nx, ny, nz], args: volume)
        var expected: [UInt32] = []
        for z in 0 ..< nz { for y in 0 ..< ny { for x in 0 ..< nx { expected.append(UInt32(x + 100 * y + 10000 * z)) } } }
        #expect(try volume.download() == expected)
    }

    @Test func localMemoryArgument() throws {
        let group = 32, groups = 9
        let x = (0 ..< group * groups).map { Float($0 % 13) }  // small integers: sums are exact in float
        let xBuffer = try device.buffer(x), sums = try device.buffer(Float.self, count: groups)
        try RuntimeFixture.selftestProgram.kernel("group_sum")
            .launch(global: [group * groups], local: [group], args: xBuffer, sums, KernelArgument.local(Float.self, count: group))
        let expected = (0 ..< groups).map { g in x[g * group ..< (g + 1) * group].reduce(0, +) }
        #expect(try sums.download() == expected)
    }

    @Test func argumentMistakesAreCaughtBeforeTheDriver() throws {
        let saxpy = try RuntimeFixture.selftestProgram.kernel("saxpy")
        let x = try device.buffer(Float.self, count: 8)
        #expect(throws: KernelLaunchError.argumentCount(kernel: "saxpy", expected: 4, got: 3)) {
            try saxpy.launch(global: [8], args: Int32(8), Float(1), x)
        }
        #expect(throws: KernelLaunchError.workSize(kernel: "saxpy", problem: "global size [10] is not a multiple of local size [4]")) {
            try saxpy.launch(global: [10], local: [4], args: Int32(8), Float(1), x, x)
        }
        #expect(throws: KernelLaunchError.self) { try saxpy.launch(global: [], args: Int32(8), Float(1), x, x) }
        #expect(throws: KernelLaunchError.self) { try saxpy.launch(global: [1, 1, 1, 1], args: Int32(8), Float(1), x, x) }
        #expect(throws: KernelLaunchError.unknownKernel(name: "sgemm", available: RuntimeFixture.selftestProgram.kernelNames)) {
            _ = try RuntimeFixture.selftestProgram.kernel("sgemm")
        }
        // Kind checks need the driver's argument info; PoCL keeps it, other drivers may not.
        if device.info.platformName.contains("Portable Computing Language") { #expect(saxpy.declared != nil) }
        if saxpy.declared != nil {
            #expect(throws: KernelLaunchError.argumentKind(kernel: "saxpy", index: 0, expected: "a scalar int", got: "scalar float")) {
                try saxpy.launch(global: [8], args: Float(8), Float(1), x, x)
            }
            #expect(throws: KernelLaunchError.self) { try saxpy.launch(global: [8], args: Int32(8), Float(1), Float(0), x) }
            // Named arguments: right names launch, a swapped pair is refused naming both.
            let y = try device.buffer([Float](repeating: 1, count: 8))
            try x.upload((0..<8).map(Float.init))
            try saxpy.launch(global: [8], named: ["n": Int32(8), "a": Float(2), "x": x, "y": y]).wait()
            #expect(try y.download() == (0..<8).map { 2 * Float($0) + 1 })
            #expect(throws: KernelLaunchError.argumentName(kernel: "saxpy", index: 2, expected: "x", got: "y")) {
                try saxpy.launch(global: [8], named: ["n": Int32(8), "a": Float(2), "y": y, "x": x])
            }
        }
    }

    @Test func concurrentLaunchesOfOneKernelStayCorrect() async throws {
        let saxpy = try RuntimeFixture.selftestProgram.kernel("saxpy")
        let device = self.device
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for task in 0 ..< 8 {
                group.addTask {
                    let n = 1000 + task
                    let x = RuntimeFixture.values(n, seed: UInt32(10 + task))
                    let xBuffer = try device.buffer(x), yBuffer = try device.buffer([Float](repeating: 1, count: n))
                    try saxpy.launch(global: [n], args: Int32(n), Float(task), xBuffer, yBuffer).wait()
                    return RuntimeFixture.maxRelativeError(try yBuffer.download(), x.map { Float(task) * $0 + 1 }) <= 1e-6
                }
            }
            for try await ok in group { #expect(ok) }
        }
    }
}
