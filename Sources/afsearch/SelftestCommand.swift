import ArgumentParser
import Foundation
import GPUEngine
import Kernels

/// `afsearch selftest`: builds the selftest template through the program cache, runs `saxpy` and
/// `group_sum`, checks both against Swift, and prints the device and the timings. `make run` runs it
/// before the main job, so a broken driver fails fast with a clear message.
struct SelftestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selftest",
        abstract: "Prove the OpenCL device works: build a program, launch kernels, check results and timings."
    )

    @OptionGroup var deviceOptions: DeviceSelectionOptions

    @Option(name: .long, help: "Number of floats in the saxpy check.")
    var count = 1 << 20

    @Flag(name: .long, help: "Also print the program cache's folder and counters.")
    var verbose = false

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    func validate() throws {
        guard count >= 1 else { throw ValidationError("--count must be at least 1, got \(count)") }
    }

    func run() async throws {
        let device = try deviceOptions.select()
        let info = device.info
        print("device   #\(info.index) \(info.name) (\(info.kind.rawValue), \(info.platformName), driver \(info.driverVersion))")
        print("         \(info.computeUnits) compute units, float vector width \(info.preferredFloatVectorWidth), max work-group \(info.maxWorkGroupSize)")

        let cache = ProgramCache.shared
        let before = cache.counters
        let started = Date()
        let program = try device.program(source: KernelTemplates.selftest)
        let buildSeconds = Date().timeIntervalSince(started)
        let after = cache.counters
        let source = after.memoryHits > before.memoryHits ? "memory" : after.diskHits > before.diskHits ? "disk cache"
            : cache.storesBinaries(of: info) ? "compiled" : "built from source; the driver caches its builds"
        print("program  selftest: \(program.kernelNames.joined(separator: ", ")) ready in \(Self.milliseconds(buildSeconds)) (\(source))")

        try checkSaxpy(program, device: device)
        try checkGroupSum(program, device: device)

        if verbose {
            let counters = cache.counters
            let folder = cache.directory.map { cache.storesBinaries(of: info) ? $0.path : "\($0.path) (unused: the driver caches its own builds)" }
            print("cache    \(folder ?? "(memory only)"): builds \(counters.builds), memory hits \(counters.memoryHits), disk hits \(counters.diskHits), rejected files \(counters.diskRejected), write failures \(counters.diskWriteFailures)")
        }
        print("selftest passed")
    }

    /// y = a·x + y on `count` floats. The device may fuse the multiply-add (OpenCL C allows
    /// contraction) where Swift rounds twice, so the check allows a relative error of 1e-6.
    private func checkSaxpy(_ program: ComputeProgram, device: ComputeDevice) throws {
        let a: Float = 1.5
        let x = (0 ..< count).map { Float($0 % 1000) * 0.001 - 0.5 }
        let y = (0 ..< count).map { Float(($0 * 7) % 1000) * 0.002 }
        let xBuffer = try device.buffer(x), yBuffer = try device.buffer(y)
        let saxpy = try program.kernel("saxpy")
        let global = (count + 255) / 256 * 256
        let first = try saxpy.launch(global: [global], args: Int32(count), a, xBuffer, yBuffer).timing()
        let result = try yBuffer.download()
        var worst: Float = 0
        for i in 0 ..< count {
            let expected = a * x[i] + y[i]
            let error = abs(result[i] - expected) / max(1, abs(expected))
            if !(error <= 1e-6) {
                throw Failure(description: "saxpy on \(device.info.name): y[\(i)] = \(result[i]), expected \(expected) (relative error \(error))")
            }
            worst = max(worst, error)
        }
        // A second launch, after the first has warmed caches and the driver's launch path.
        let second = try saxpy.launch(global: [global], args: Int32(count), a, xBuffer, yBuffer).timing()
        let bytes = Double(3 * 4 * count)
        print("saxpy    \(count) floats: max relative error \(String(format: "%.1e", worst)); kernel \(Self.milliseconds(first.seconds)) first, \(Self.milliseconds(second.seconds)) second (\(String(format: "%.1f", bytes / max(second.seconds, 1e-9) / 1e9)) GB/s)")
    }

    /// Work-group sums through `__local` memory and barriers. Inputs are small integers, so every
    /// partial sum is exact in float and the check is equality.
    private func checkGroupSum(_ program: ComputeProgram, device: ComputeDevice) throws {
        let kernel = try program.kernel("group_sum")
        var groupSize = 1
        while groupSize * 2 <= min(64, try kernel.maxWorkGroupSize()) { groupSize *= 2 }
        let groups = 257
        let x = (0 ..< groupSize * groups).map { Float(($0 * 31) % 17) - 8 }
        let xBuffer = try device.buffer(x), sums = try device.buffer(Float.self, count: groups)
        let timing = try kernel.launch(global: [groupSize * groups], local: [groupSize],
                                       args: xBuffer, sums, KernelArgument.local(Float.self, count: groupSize)).timing()
        let result = try sums.download()
        for g in 0 ..< groups {
            let expected = x[g * groupSize ..< (g + 1) * groupSize].reduce(0, +)
            if result[g] != expected {
                throw Failure(description: "group_sum on \(device.info.name): group \(g) = \(result[g]), expected \(expected)")
            }
        }
        print("sum      \(groups) work-groups of \(groupSize) through __local memory: exact; kernel \(Self.milliseconds(timing.seconds))")
    }

    static func milliseconds(_ seconds: Double) -> String { String(format: "%.3f ms", seconds * 1000) }
}
