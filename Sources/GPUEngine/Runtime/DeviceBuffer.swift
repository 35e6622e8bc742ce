import COpenCL

/// Element types a device buffer can hold: plain values whose host bytes are the device bytes.
public protocol DeviceScalar: BitwiseCopyable, Sendable {}
extension Float: DeviceScalar {}
extension Double: DeviceScalar {}
extension Int8: DeviceScalar {}
extension UInt8: DeviceScalar {}
extension Int16: DeviceScalar {}
extension UInt16: DeviceScalar {}
extension Int32: DeviceScalar {}
extension UInt32: DeviceScalar {}
extension Int64: DeviceScalar {}
extension UInt64: DeviceScalar {}

/// A bad buffer request: the sizes or the range involved, and what was expected.
public enum DeviceBufferError: Error, CustomStringConvertible, Equatable, Sendable {
    case emptyBuffer(elementType: String)
    case rangeOutOfBounds(operation: String, range: Range<Int>, count: Int)
    case tooLarge(bytes: Int, maxAllocationBytes: UInt64, device: String)

    public var description: String {
        switch self {
        case .emptyBuffer(let type):
            return "a DeviceBuffer<\(type)> needs a count of at least 1 (OpenCL has no empty buffers)"
        case .rangeOutOfBounds(let operation, let range, let count):
            return "\(operation): elements \(range.lowerBound)..<\(range.upperBound) are outside the buffer's 0..<\(count)"
        case .tooLarge(let bytes, let maxBytes, let device):
            return "a buffer of \(bytes) bytes exceeds \(device)'s largest allocation of \(maxBytes) bytes"
        }
    }
}

/// A typed `__global` buffer of `count` elements on one device; the memory is released on deinit.
///
/// `download` blocks until the transfer is done. `upload` (up to `stagedUploadLimit` bytes), `fill` and `copy`
/// are enqueued and return at once: the device queue is in order, so later launches and downloads see their
/// effect.
public final class DeviceBuffer<Element: DeviceScalar>: @unchecked Sendable {
    public let device: ComputeDevice
    public let count: Int
    let memory: cl_mem

    public var byteCount: Int { count * MemoryLayout<Element>.stride }
    /// The buffer a slice lies in (kept alive by the slice), nil for a buffer of its own.
    let parent: AnyObject?

    init(device: ComputeDevice, count: Int, initial: [Element]? = nil) throws {
        guard count > 0 else { throw DeviceBufferError.emptyBuffer(elementType: "\(Element.self)") }
        let bytes = count * MemoryLayout<Element>.stride
        guard UInt64(bytes) <= device.info.maxAllocationBytes else {
            throw DeviceBufferError.tooLarge(bytes: bytes, maxAllocationBytes: device.info.maxAllocationBytes, device: device.info.name)
        }
        var status: cl_int = CL_SUCCESS
        let made: cl_mem?
        if let initial {
            made = initial.withUnsafeBytes { raw in
                clCreateBuffer(device.context, cl_mem_flags(CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR), bytes,
                               UnsafeMutableRawPointer(mutating: raw.baseAddress), &status)
            }
        } else if let reused = device.bufferPool.take(bytes: bytes) {
            made = reused
        } else {
            made = clCreateBuffer(device.context, cl_mem_flags(CL_MEM_READ_WRITE), bytes, nil, &status)
        }
        guard let made, status == CL_SUCCESS else {
            throw OpenCLError(code: status, call: "clCreateBuffer", detail: "\(count) × \(Element.self) on \(device.info.name)")
        }
        self.device = device
        self.count = count
        self.memory = made
        self.parent = nil
    }

    /// Elements `offset ..< offset + count` of `parent` as a buffer of their own (an OpenCL sub-buffer: kernels
    /// see its first element at index 0). The offset in bytes must be a multiple of `sliceAlignment`.
    public init(slicing parent: DeviceBuffer<Element>, offset: Int, count: Int) throws {
        let stride = MemoryLayout<Element>.stride
        guard count > 0 else { throw DeviceBufferError.emptyBuffer(elementType: "\(Element.self)") }
        guard offset >= 0, offset + count <= parent.count else {
            throw DeviceBufferError.rangeOutOfBounds(operation: "slice", range: offset ..< offset + count, count: parent.count)
        }
        precondition((offset * stride) % Self.sliceAlignment == 0, "slice offsets are multiples of \(Self.sliceAlignment) bytes")
        var region = cl_buffer_region(origin: offset * stride, size: count * stride)
        var status: cl_int = CL_SUCCESS
        let made = clCreateSubBuffer(parent.memory, cl_mem_flags(CL_MEM_READ_WRITE), cl_buffer_create_type(CL_BUFFER_CREATE_TYPE_REGION),
                                     &region, &status)
        guard let made, status == CL_SUCCESS else {
            throw OpenCLError(code: status, call: "clCreateSubBuffer", detail: "\(count) × \(Element.self) at \(offset)")
        }
        self.device = parent.device
        self.count = count
        self.memory = made
        self.parent = parent
    }

    /// Byte alignment of slice offsets: 4096, above every device's CL_DEVICE_MEM_BASE_ADDR_ALIGN.
    public static var sliceAlignment: Int { 4096 }

    deinit {
        if parent != nil { clReleaseMemObject(memory) } else { device.bufferPool.give(memory, bytes: byteCount) }
    }

    private func validate(_ operation: String, _ range: Range<Int>) throws {
        guard range.lowerBound >= 0, range.upperBound <= count else {
            throw DeviceBufferError.rangeOutOfBounds(operation: operation, range: range, count: count)
        }
    }

    /// Writes `values` into elements `offset ..< offset + values.count`. Enqueued like a launch and returns
    /// at once: the values are copied into host memory of their own, which the write frees when it has run
    /// (an event callback), so the caller's array is free at return and the device never waits for the host
    /// in the middle of a step: a blocking write there (a pool's step arguments between its training kernel and
    /// its optimiser, a slot's fresh weights) holds the queue until the host has woken up and written (on PoCL
    /// the difference is within the machine's spread, bench/README.md; a GPU's round trips are longer).
    /// Uploads over `stagedUploadLimit` bytes block instead, so that no large copy waits in memory.
    public func upload(_ values: [Element], at offset: Int = 0) throws {
        try validate("upload", offset ..< offset + values.count)
        guard !values.isEmpty else { return }
        let stride = MemoryLayout<Element>.stride
        try values.withUnsafeBytes { raw in
            guard raw.count <= Self.stagedUploadLimit else {
                try check(clEnqueueWriteBuffer(device.queue, memory, cl_bool(CL_TRUE), offset * stride, raw.count,
                                               raw.baseAddress, 0, nil, nil), "clEnqueueWriteBuffer")
                return
            }
            let staged = UnsafeMutableRawPointer.allocate(byteCount: raw.count, alignment: 64)
            staged.copyMemory(from: raw.baseAddress!, byteCount: raw.count)
            var event: cl_event?
            let status = clEnqueueWriteBuffer(device.queue, memory, cl_bool(CL_FALSE), offset * stride, raw.count,
                                              staged, 0, nil, &event)
            guard status == CL_SUCCESS, let event else {
                staged.deallocate()
                try check(status, "clEnqueueWriteBuffer")
                return
            }
            defer { clReleaseEvent(event) }
            if clSetEventCallback(event, CL_COMPLETE, { _, _, staged in staged?.deallocate() }, staged) != CL_SUCCESS {
                // No callback: wait for this write, then free its copy.
                var waited: cl_event? = event
                let done = clWaitForEvents(1, &waited)
                staged.deallocate()
                try check(done, "clWaitForEvents", "upload")
            }
        }
    }

    /// The largest upload that is staged and enqueued rather than written blocking (16 MiB).
    public static var stagedUploadLimit: Int { 16 << 20 }

    /// Reads elements `range` (all by default); blocks until every earlier command has finished.
    public func download(_ range: Range<Int>? = nil) throws -> [Element] {
        let range = range ?? 0 ..< count
        try validate("download", range)
        guard !range.isEmpty else { return [] }
        let stride = MemoryLayout<Element>.stride
        return try [Element](unsafeUninitializedCapacity: range.count) { out, initialized in
            try check(clEnqueueReadBuffer(device.queue, memory, cl_bool(CL_TRUE), range.lowerBound * stride,
                                          range.count * stride, UnsafeMutableRawPointer(out.baseAddress), 0, nil, nil),
                      "clEnqueueReadBuffer")
            initialized = range.count
        }
    }

    /// Sets elements `range` (all by default) to `value`.
    public func fill(_ value: Element, _ range: Range<Int>? = nil) throws {
        let range = range ?? 0 ..< count
        try validate("fill", range)
        guard !range.isEmpty else { return }
        let stride = MemoryLayout<Element>.stride
        var pattern = value
        try withUnsafeBytes(of: &pattern) { raw in
            try check(clEnqueueFillBuffer(device.queue, memory, raw.baseAddress, stride, range.lowerBound * stride,
                                          range.count * stride, 0, nil, nil), "clEnqueueFillBuffer")
        }
    }

    /// Copies `count` elements of `source` starting at `sourceOffset` to this buffer at `offset`
    /// (the whole of `source` by default). Both buffers must live on the same device.
    public func copy(from source: DeviceBuffer<Element>, sourceOffset: Int = 0, to offset: Int = 0, count: Int? = nil) throws {
        let n = count ?? (source.count - sourceOffset)
        try source.validate("copy (source)", sourceOffset ..< sourceOffset + n)
        try validate("copy (destination)", offset ..< offset + n)
        guard n > 0 else { return }
        guard source.device === device else {
            throw OpenCLError(code: CL_INVALID_CONTEXT, call: "clEnqueueCopyBuffer",
                              detail: "source buffer lives on \(source.device.info.name), destination on \(device.info.name)")
        }
        let stride = MemoryLayout<Element>.stride
        try check(clEnqueueCopyBuffer(device.queue, source.memory, memory, sourceOffset * stride, offset * stride,
                                      n * stride, 0, nil, nil), "clEnqueueCopyBuffer")
    }
}

extension ComputeDevice {
    /// An uninitialised buffer of `count` elements.
    public func buffer<Element: DeviceScalar>(_ type: Element.Type, count: Int) throws -> DeviceBuffer<Element> {
        try DeviceBuffer(device: self, count: count)
    }

    /// A buffer holding a copy of `values`.
    public func buffer<Element: DeviceScalar>(_ values: [Element]) throws -> DeviceBuffer<Element> {
        try DeviceBuffer(device: self, count: values.count, initial: values)
    }
}
