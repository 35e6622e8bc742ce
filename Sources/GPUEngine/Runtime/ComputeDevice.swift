import COpenCL
import Foundation

// The OpenCL runtime of afsearch: a thin, safe Swift layer over the C API.
//
//     let device = try ComputeDevice.select(nil)           // $AFSEARCH_DEVICE, else first GPU, else first CPU
//     let device = try ComputeDevice.select("pthread")     // --device: an index or a name substring
//     ComputeDevice.list()                                 // [DeviceInfo] of every platform's devices
//     device.info.name, device.peakHint.preferredFloatVectorWidth, device.peakHint.computeUnits
//
//     let x = try device.buffer(Float.self, count: n)      // DeviceBuffer<Float>, released on deinit
//     let y = try device.buffer(values)                    // ... initialised from a host array
//     try x.upload(values, at: 0)                          // enqueued write of a copy of values
//     try x.fill(0); try x.copy(from: y)                   // enqueued (the queue is in order)
//     let back: [Float] = try x.download()                 // blocking read (waits for earlier launches)
//
//     let program = try device.program(source: KernelTemplates.selftest, options: "-cl-fast-relaxed-math")
//                                                          // through ProgramCache.shared: memory, then disk
//     let saxpy = try program.kernel("saxpy")              // ComputeKernel
//     let event = try saxpy.launch(global: [n], local: nil, args: Int32(n), Float(2), x, y)
//     let seconds = try event.timing().seconds             // waits, then reads the profiling counters
//     try kernel.launch(global: [w, h], local: [16, 16], arguments: [.buffer(x), .scalar(Int32(w)),
//                       .local(Float.self, count: 256)])  // 2-D, explicit argument list, __local scratch
//     try device.finish()
//
//     ProgramCache(directory: url)                         // a private cache (tests); .counters: builds,
//                                                          // memoryHits, diskHits, diskRejected, ...
//
// Scalars are Int32, UInt32 and Float directly, any DeviceScalar through `.scalar(_:)`; Swift `Int`
// is refused at compile time (its width is not OpenCL's `int`). Launches are checked before the driver
// sees them: argument count, buffer vs scalar vs __local, the scalar's declared type, work sizes.
//
// Errors: `OpenCLError` (code name + failing call), `DeviceSelectionError` (listing of devices, or the
// packages to install), `ProgramBuildError` (build log + the source lines it points to),
// `KernelLaunchError` (argument count/kind, work sizes), `DeviceBufferError` (sizes and ranges).
//
// Threads: every type here is a final class that owns its OpenCL handles and is `@unchecked Sendable`.
// OpenCL 1.2 makes every API call thread-safe except `clSetKernelArg` on one kernel object, so
// `ComputeKernel` serialises "set arguments + enqueue" with a lock. The device's queue is in order:
// commands from one thread run in the order enqueued; commands from different threads interleave.
// Inside GPUEngine, `device.queue`, `device.context`, `buffer.memory` and `kernel.kernel` are the raw
// handles for code that needs a C call the runtime does not wrap yet.

/// One OpenCL device with its context and its in-order, profiling-enabled command queue.
///
/// There is one instance per device per process (`select`/`open` return the shared instance), so every
/// buffer and program made for a device lives in the same context and can be used together.
public final class ComputeDevice: @unchecked Sendable {
    public let info: DeviceInfo
    let deviceID: cl_device_id
    let context: cl_context
    let queue: cl_command_queue
    /// Memory of released buffers for reuse: an eighth of the global memory, at most 2 GiB.
    let bufferPool: BufferPool

    /// Compute units, clock, preferred float vector width, work-group and local-memory limits.
    public var peakHint: PeakHint { PeakHint(info) }

    private init(info: DeviceInfo, deviceID: cl_device_id) throws {
        self.info = info
        self.deviceID = deviceID
        var status: cl_int = CL_SUCCESS
        var id: cl_device_id? = deviceID
        guard let context = clCreateContext(nil, 1, &id, nil, nil, &status), status == CL_SUCCESS else {
            throw OpenCLError(code: status, call: "clCreateContext", detail: info.name)
        }
        let properties = cl_command_queue_properties(CL_QUEUE_PROFILING_ENABLE)
        guard let queue = clCreateCommandQueue(context, deviceID, properties, &status), status == CL_SUCCESS else {
            clReleaseContext(context)
            throw OpenCLError(code: status, call: "clCreateCommandQueue", detail: info.name)
        }
        self.context = context
        self.queue = queue
        bufferPool = BufferPool(capacity: Int(min(info.globalMemoryBytes / 8, 2 << 30)))
    }

    deinit {
        clFinish(queue)  // staged uploads free their host copies as they complete
        clReleaseCommandQueue(queue)
        clReleaseContext(context)
    }

    /// Blocks until every command enqueued on this device has finished.
    public func finish() throws {
        try check(clFinish(queue), "clFinish", info.name)
    }

    // MARK: Discovery and selection

    /// Every device of every platform, in the order `--device` indices count them.
    public static func list() throws -> [DeviceInfo] {
        try discovered().map(\.info)
    }

    /// The device a selector names: `selector` when given (`--device`), else `$AFSEARCH_DEVICE`,
    /// else the default (first GPU, else first CPU). See `DeviceSelector.resolve`.
    public static func select(_ selector: String? = nil) throws -> ComputeDevice {
        let found = try discovered()
        let infos = found.map(\.info)
        let index: Int
        if let selector {
            // An empty --device is a mistake (an unset variable in a script), not a request for the default.
            guard !selector.trimmingCharacters(in: .whitespaces).isEmpty else {
                throw DeviceSelectionError.noMatch(selector: selector, source: "--device", devices: infos)
            }
            index = try DeviceSelector.resolve(selector, among: infos, source: "--device")
        } else {
            let fromEnvironment = ProcessInfo.processInfo.environment[DeviceSelector.environmentVariable]
            index = try DeviceSelector.resolve(fromEnvironment, among: infos, source: DeviceSelector.environmentVariable)
        }
        return try open(index: index)
    }

    /// The shared instance for the device at `index` of `list()`.
    public static func open(index: Int) throws -> ComputeDevice {
        let found = try discovered()
        guard let entry = found.first(where: { $0.info.index == index }) else {
            throw DeviceSelectionError.noMatch(selector: String(index), source: "device index", devices: found.map(\.info))
        }
        return try opened.withLock { table in
            if let device = table[index] { return device }
            let device = try ComputeDevice(info: entry.info, deviceID: entry.id)
            table[index] = device
            return device
        }
    }

    struct Discovered: @unchecked Sendable {
        let info: DeviceInfo
        let id: cl_device_id
    }

    /// Platform and device handles are valid for the life of the process, so discovery runs once.
    private static let catalog = LockedState<[Discovered]?>(nil)
    private static let opened = LockedState<[Int: ComputeDevice]>([:])

    static func discovered() throws -> [Discovered] {
        try catalog.withLock { cached in
            if let cached { return cached }
            let found = try enumerateDevices()
            cached = found
            return found
        }
    }

    /// How the ICD loader says "no driver installed": `CL_PLATFORM_NOT_FOUND_KHR` (-1001) from ocl-icd
    /// and Khronos' loader, or success with zero platforms from some vendor libraries.
    static func missingPlatformError(status: cl_int, platformCount: cl_uint) -> DeviceSelectionError? {
        guard status == -1001 || (status == CL_SUCCESS && platformCount == 0) else { return nil }
        return .noPlatform(detail: "the OpenCL loader reports no installed driver")
    }

    private static func enumerateDevices() throws -> [Discovered] {
        PoCLEnvironment.prepare()
        var platformCount: cl_uint = 0
        let status = clGetPlatformIDs(0, nil, &platformCount)
        if let missing = missingPlatformError(status: status, platformCount: platformCount) { throw missing }
        try check(status, "clGetPlatformIDs")
        var platforms = [cl_platform_id?](repeating: nil, count: Int(platformCount))
        try check(clGetPlatformIDs(platformCount, &platforms, nil), "clGetPlatformIDs")

        var found: [Discovered] = []
        for case let platform? in platforms {
            var deviceCount: cl_uint = 0
            let countStatus = clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), 0, nil, &deviceCount)
            if countStatus == CL_DEVICE_NOT_FOUND || deviceCount == 0 { continue }
            try check(countStatus, "clGetDeviceIDs")
            var devices = [cl_device_id?](repeating: nil, count: Int(deviceCount))
            try check(clGetDeviceIDs(platform, cl_device_type(CL_DEVICE_TYPE_ALL), deviceCount, &devices, nil), "clGetDeviceIDs")
            for case let device? in devices {
                found.append(Discovered(info: try DeviceInfo(index: found.count, platform: platform, device: device), id: device))
            }
        }
        if found.isEmpty { throw DeviceSelectionError.noDevices }
        return found
    }
}
