import Foundation
import COpenCL

/// Everything `afsearch devices` shows about one OpenCL device, read once at discovery.
public struct DeviceInfo: Codable, Equatable, Sendable {
    public enum Kind: String, Codable, Sendable { case gpu, cpu, accelerator, other }

    /// Position in the global device list (platforms in driver order, devices in platform order).
    /// This is the number `--device` and `AFSEARCH_DEVICE` accept.
    public var index: Int
    public var name: String
    public var vendor: String
    public var platformName: String
    public var platformVersion: String
    /// `CL_DRIVER_VERSION`; part of the on-disk program cache key.
    public var driverVersion: String
    /// `CL_DEVICE_VERSION`, e.g. "OpenCL 3.0 PoCL ...".
    public var deviceVersion: String
    /// `CL_DEVICE_OPENCL_C_VERSION`, e.g. "OpenCL C 1.2 pocl".
    public var openCLCVersion: String
    public var kind: Kind
    public var computeUnits: Int
    public var maxClockMHz: Int
    public var globalMemoryBytes: UInt64
    public var maxAllocationBytes: UInt64
    public var localMemoryBytes: UInt64
    public var maxWorkGroupSize: Int
    public var maxWorkItemSizes: [Int]
    public var preferredFloatVectorWidth: Int
    public var nativeFloatVectorWidth: Int
    public var extensions: [String]

    /// The driver keeps its own cache of programs built from source (PoCL), so a rebuild of an unchanged
    /// program is a cache hit there (`ProgramCache.BinaryStorage`).
    public var cachesSourceBuilds: Bool { platformName.contains("Portable Computing Language") }
}

/// The facts a kernel generator needs to pick tile shapes for a device (DESIGN.md: explicit vectors
/// and register tiles on PoCL, local-memory tiles and work-group shape on GPUs).
public struct PeakHint: Sendable, Equatable {
    public var kind: DeviceInfo.Kind
    public var computeUnits: Int
    public var maxClockMHz: Int
    /// `CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT`: PoCL on AVX-512 reports 16, most GPUs 1.
    public var preferredFloatVectorWidth: Int
    public var maxWorkGroupSize: Int
    public var localMemoryBytes: UInt64

    public init(_ info: DeviceInfo) {
        kind = info.kind
        computeUnits = info.computeUnits
        maxClockMHz = info.maxClockMHz
        preferredFloatVectorWidth = info.preferredFloatVectorWidth
        maxWorkGroupSize = info.maxWorkGroupSize
        localMemoryBytes = info.localMemoryBytes
    }
}

// MARK: - Raw queries

/// Reads a `clGet*Info` string: size query, then the bytes, trailing NUL and whitespace trimmed.
func readInfoString(
    _ call: String,
    _ get: (Int, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>?) -> cl_int
) throws -> String {
    var size = 0
    try check(get(0, nil, &size), call)
    guard size > 0 else { return "" }
    var bytes = [UInt8](repeating: 0, count: size)
    try bytes.withUnsafeMutableBytes { try check(get(size, $0.baseAddress, nil), call) }
    let text = String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
    return text.trimmingCharacters(in: .whitespacesAndNewlines)
}

/// Reads a fixed-size `clGet*Info` value (cl_uint, cl_ulong, size_t, bitfield).
func readInfoValue<T: BitwiseCopyable>(
    _ type: T.Type, _ call: String,
    _ get: (Int, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int>?) -> cl_int
) throws -> T {
    try withUnsafeTemporaryAllocation(of: T.self, capacity: 1) { slot in
        try check(get(MemoryLayout<T>.size, UnsafeMutableRawPointer(slot.baseAddress!), nil), call)
        return slot[0]
    }
}

func deviceString(_ device: cl_device_id, _ param: Int32) throws -> String {
    try readInfoString("clGetDeviceInfo") { clGetDeviceInfo(device, cl_device_info(param), $0, $1, $2) }
}

func deviceValue<T: BitwiseCopyable>(_ device: cl_device_id, _ param: Int32, _ type: T.Type) throws -> T {
    try readInfoValue(type, "clGetDeviceInfo") { clGetDeviceInfo(device, cl_device_info(param), $0, $1, $2) }
}

func platformString(_ platform: cl_platform_id, _ param: Int32) throws -> String {
    try readInfoString("clGetPlatformInfo") { clGetPlatformInfo(platform, cl_platform_info(param), $0, $1, $2) }
}

extension DeviceInfo {
    /// Reads every field from the driver.
    init(index: Int, platform: cl_platform_id, device: cl_device_id) throws {
        self.index = index
        name = try deviceString(device, CL_DEVICE_NAME)
        vendor = try deviceString(device, CL_DEVICE_VENDOR)
        platformName = try platformString(platform, CL_PLATFORM_NAME)
        platformVersion = try platformString(platform, CL_PLATFORM_VERSION)
        driverVersion = try deviceString(device, CL_DRIVER_VERSION)
        deviceVersion = try deviceString(device, CL_DEVICE_VERSION)
        openCLCVersion = try deviceString(device, CL_DEVICE_OPENCL_C_VERSION)
        let type = try deviceValue(device, CL_DEVICE_TYPE, cl_device_type.self)
        if type & cl_device_type(CL_DEVICE_TYPE_GPU) != 0 {
            kind = .gpu
        } else if type & cl_device_type(CL_DEVICE_TYPE_CPU) != 0 {
            kind = .cpu
        } else if type & cl_device_type(CL_DEVICE_TYPE_ACCELERATOR) != 0 {
            kind = .accelerator
        } else {
            kind = .other
        }
        computeUnits = Int(try deviceValue(device, CL_DEVICE_MAX_COMPUTE_UNITS, cl_uint.self))
        maxClockMHz = Int(try deviceValue(device, CL_DEVICE_MAX_CLOCK_FREQUENCY, cl_uint.self))
        globalMemoryBytes = try deviceValue(device, CL_DEVICE_GLOBAL_MEM_SIZE, cl_ulong.self)
        maxAllocationBytes = try deviceValue(device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, cl_ulong.self)
        localMemoryBytes = try deviceValue(device, CL_DEVICE_LOCAL_MEM_SIZE, cl_ulong.self)
        maxWorkGroupSize = try deviceValue(device, CL_DEVICE_MAX_WORK_GROUP_SIZE, Int.self)
        let dims = Int(try deviceValue(device, CL_DEVICE_MAX_WORK_ITEM_DIMENSIONS, cl_uint.self))
        var sizes = [Int](repeating: 0, count: dims)
        try sizes.withUnsafeMutableBytes { raw in
            try check(
                clGetDeviceInfo(device, cl_device_info(CL_DEVICE_MAX_WORK_ITEM_SIZES), raw.count, raw.baseAddress, nil),
                "clGetDeviceInfo", "CL_DEVICE_MAX_WORK_ITEM_SIZES")
        }
        maxWorkItemSizes = sizes
        preferredFloatVectorWidth = Int(try deviceValue(device, CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, cl_uint.self))
        nativeFloatVectorWidth = Int(try deviceValue(device, CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT, cl_uint.self))
        extensions = try deviceString(device, CL_DEVICE_EXTENSIONS)
            .split(separator: " ").map(String.init).sorted()
    }
}
