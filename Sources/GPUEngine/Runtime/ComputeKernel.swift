import COpenCL
import Foundation

/// One argument of a kernel launch: a buffer (`__global` pointer), a scalar, or `__local` scratch.
public struct KernelArgument: @unchecked Sendable {
    enum Storage {
        /// `owner` keeps the buffer alive until the launch's event is released; `element` names it in errors
        /// (only then: a type's name costs more than the launch's other host work).
        case memory(cl_mem, owner: AnyObject, element: Any.Type)
        /// Host bytes of a scalar and its OpenCL C type name (`int`, `uint`, `float`, ...).
        case scalar([UInt8], openCLType: String)
        case local(bytes: Int)
    }
    let storage: Storage

    public static func buffer<Element>(_ buffer: DeviceBuffer<Element>) -> KernelArgument {
        KernelArgument(storage: .memory(buffer.memory, owner: buffer, element: Element.self))
    }

    public static func scalar<Value: DeviceScalar>(_ value: Value) -> KernelArgument {
        var copy = value
        let bytes = withUnsafeBytes(of: &copy) { [UInt8]($0) }
        return KernelArgument(storage: .scalar(bytes, openCLType: openCLTypeName(Value.self)))
    }

    /// `count` elements of `__local` memory, one allocation per work-group.
    public static func local<Element>(_ type: Element.Type, count: Int) -> KernelArgument {
        KernelArgument(storage: .local(bytes: count * MemoryLayout<Element>.stride))
    }

    var summary: String {
        switch storage {
        case .memory(_, _, let element): return "DeviceBuffer<\(element)>"
        case .scalar(_, let type): return "scalar \(type)"
        case .local(let bytes): return "__local \(bytes) bytes"
        }
    }
}

func openCLTypeName<Value>(_ type: Value.Type) -> String {
    switch type {
    case is Float.Type: return "float"
    case is Double.Type: return "double"
    case is Int8.Type: return "char"
    case is UInt8.Type: return "uchar"
    case is Int16.Type: return "short"
    case is UInt16.Type: return "ushort"
    case is Int32.Type: return "int"
    case is UInt32.Type: return "uint"
    case is Int64.Type: return "long"
    case is UInt64.Type: return "ulong"
    default: return "\(type)"
    }
}

/// Things that can be passed directly in `launch(global:local:args:)`'s variadic list. Swift `Int` is
/// deliberately absent: its width differs from OpenCL's `int`; pass `Int32(n)`.
public protocol KernelArgumentConvertible {
    var kernelArgument: KernelArgument { get }
}
extension KernelArgument: KernelArgumentConvertible { public var kernelArgument: KernelArgument { self } }
extension Int32: KernelArgumentConvertible { public var kernelArgument: KernelArgument { .scalar(self) } }
extension UInt32: KernelArgumentConvertible { public var kernelArgument: KernelArgument { .scalar(self) } }
extension Float: KernelArgumentConvertible { public var kernelArgument: KernelArgument { .scalar(self) } }
extension DeviceBuffer: KernelArgumentConvertible { public var kernelArgument: KernelArgument { .buffer(self) } }

/// A launch the runtime refused before it reached the driver, or a kernel name that does not exist.
public enum KernelLaunchError: Error, CustomStringConvertible, Equatable, Sendable {
    case unknownKernel(name: String, available: [String])
    case argumentCount(kernel: String, expected: Int, got: Int)
    case argumentKind(kernel: String, index: Int, expected: String, got: String)
    case argumentName(kernel: String, index: Int, expected: String, got: String)
    case workSize(kernel: String, problem: String)

    public var description: String {
        switch self {
        case .unknownKernel(let name, let available):
            return "the program has no kernel '\(name)'; it defines: \(available.joined(separator: ", "))"
        case .argumentCount(let kernel, let expected, let got):
            return "kernel '\(kernel)' takes \(expected) arguments, got \(got)"
        case .argumentKind(let kernel, let index, let expected, let got):
            return "kernel '\(kernel)' argument \(index) is \(expected), got \(got)"
        case .argumentName(let kernel, let index, let expected, let got):
            return "kernel '\(kernel)' argument \(index) is named '\(expected)', got '\(got)'"
        case .workSize(let kernel, let problem):
            return "kernel '\(kernel)': \(problem)"
        }
    }
}

/// One kernel object. `launch` sets the arguments and enqueues under a lock, because OpenCL allows
/// `clSetKernelArg` on a kernel object from one thread at a time.
public final class ComputeKernel: @unchecked Sendable {
    public let name: String
    public let program: ComputeProgram
    public let argumentCount: Int
    /// Per argument: its address space, its declared type and its name, when the driver keeps kernel
    /// argument info (PoCL does; others only with `-cl-kernel-arg-info`). Used to reject a Float passed to an
    /// `int`, or a scalar passed to a pointer, before the driver silently accepts equal-sized bytes, and an
    /// argument given under another name than the kernel's (`launch(global:local:named:)`).
    let declared: [(addressSpace: cl_kernel_arg_address_qualifier, type: String, name: String)]?
    private let declaredKinds: [ArgumentKind]?
    let kernel: cl_kernel
    private let lock = NSLock()

    init(program: ComputeProgram, name: String) throws {
        var status: cl_int = CL_SUCCESS
        guard let kernel = clCreateKernel(program.program, name, &status), status == CL_SUCCESS else {
            throw OpenCLError(code: status, call: "clCreateKernel", detail: name)
        }
        self.kernel = kernel
        self.name = name
        self.program = program
        var count: cl_uint = 0
        try check(clGetKernelInfo(kernel, cl_kernel_info(CL_KERNEL_NUM_ARGS), MemoryLayout<cl_uint>.size, &count, nil),
                  "clGetKernelInfo", "CL_KERNEL_NUM_ARGS of \(name)")
        argumentCount = Int(count)
        declared = Self.readDeclaredArguments(kernel, count: Int(count))
        declaredKinds = Self.kinds(declared)
    }

    deinit { clReleaseKernel(kernel) }

    private static func readDeclaredArguments(_ kernel: cl_kernel, count: Int)
        -> [(addressSpace: cl_kernel_arg_address_qualifier, type: String, name: String)]? {
        var result: [(addressSpace: cl_kernel_arg_address_qualifier, type: String, name: String)] = []
        for index in 0 ..< count {
            var space: cl_kernel_arg_address_qualifier = 0
            let status = clGetKernelArgInfo(kernel, cl_uint(index), cl_kernel_arg_info(CL_KERNEL_ARG_ADDRESS_QUALIFIER),
                                            MemoryLayout.size(ofValue: space), &space, nil)
            guard status == CL_SUCCESS else { return nil }
            let type = (try? readInfoString("clGetKernelArgInfo") {
                clGetKernelArgInfo(kernel, cl_uint(index), cl_kernel_arg_info(CL_KERNEL_ARG_TYPE_NAME), $0, $1, $2)
            }) ?? ""
            let name = (try? readInfoString("clGetKernelArgInfo") {
                clGetKernelArgInfo(kernel, cl_uint(index), cl_kernel_arg_info(CL_KERNEL_ARG_NAME), $0, $1, $2)
            }) ?? ""
            result.append((space, type, name))
        }
        return result
    }

    /// The largest work-group this kernel can run with on its device (`CL_KERNEL_WORK_GROUP_SIZE`).
    public func maxWorkGroupSize() throws -> Int {
        var size = 0
        try check(clGetKernelWorkGroupInfo(kernel, program.device.deviceID, cl_kernel_work_group_info(CL_KERNEL_WORK_GROUP_SIZE),
                                           MemoryLayout<Int>.size, &size, nil), "clGetKernelWorkGroupInfo")
        return size
    }

    /// Enqueues one NDRange of `global` work-items (1 to 3 dimensions) in work-groups of `local`
    /// (`nil` lets the driver choose; otherwise each global size must be a multiple of it, as OpenCL 1.2
    /// requires). Returns at once; the event waits and reports timings.
    @discardableResult
    public func launch(global: [Int], local: [Int]? = nil, args: any KernelArgumentConvertible...) throws -> KernelEvent {
        try launch(global: global, local: local, arguments: args.map(\.kernelArgument))
    }

    /// Launches with every argument under the name the kernel's source gives it, in order: a long argument list
    /// (the trainers' kernels take up to 30) is checked by name as well as by count and kind, where the driver
    /// reports names (PoCL does; elsewhere count and kind only).
    @discardableResult
    public func launch(global: [Int], local: [Int]? = nil,
                       named arguments: KeyValuePairs<String, any KernelArgumentConvertible>) throws -> KernelEvent {
        try launch(global: global, local: local, named: arguments.map { ($0.key, $0.value) })
    }

    /// As `launch(global:local:named:)`, the pairs built up in code (a list several kernels share).
    @discardableResult
    public func launch(global: [Int], local: [Int]? = nil,
                       named arguments: [(name: String, value: any KernelArgumentConvertible)]) throws -> KernelEvent {
        if let declared, arguments.count == declared.count {
            for (index, (given, slot)) in zip(arguments.map(\.name), declared).enumerated() where !slot.name.isEmpty && given != slot.name {
                throw KernelLaunchError.argumentName(kernel: name, index: index, expected: slot.name, got: given)
            }
        }
        return try launch(global: global, local: local, arguments: arguments.map(\.value.kernelArgument))
    }

    @discardableResult
    public func launch(global: [Int], local: [Int]? = nil, arguments: [KernelArgument]) throws -> KernelEvent {
        try validate(global: global, local: local)
        guard arguments.count == argumentCount else {
            throw KernelLaunchError.argumentCount(kernel: name, expected: argumentCount, got: arguments.count)
        }
        try validateKinds(arguments)
        let device = program.device
        return try lock.withLock {
            for (index, argument) in arguments.enumerated() {
                let status: cl_int
                switch argument.storage {
                case .memory(var memory, _, _):
                    status = clSetKernelArg(kernel, cl_uint(index), MemoryLayout<cl_mem>.size, &memory)
                case .scalar(let bytes, _):
                    status = bytes.withUnsafeBytes { clSetKernelArg(kernel, cl_uint(index), $0.count, $0.baseAddress) }
                case .local(let bytes):
                    status = clSetKernelArg(kernel, cl_uint(index), bytes, nil)
                }
                try check(status, "clSetKernelArg", "kernel '\(name)' argument \(index) (\(argument.summary))")
            }
            var event: cl_event?
            let localSizes = local
            let status: cl_int = global.withUnsafeBufferPointer { globalSizes in
                if let localSizes {
                    return localSizes.withUnsafeBufferPointer {
                        clEnqueueNDRangeKernel(device.queue, kernel, cl_uint(global.count), nil, globalSizes.baseAddress,
                                               $0.baseAddress, 0, nil, &event)
                    }
                }
                return clEnqueueNDRangeKernel(device.queue, kernel, cl_uint(global.count), nil, globalSizes.baseAddress,
                                              nil, 0, nil, &event)
            }
            try check(status, "clEnqueueNDRangeKernel", "kernel '\(name)' global \(global) local \(local.map { "\($0)" } ?? "auto")")
            let owners: [AnyObject] = arguments.compactMap {
                if case .memory(_, let owner, _) = $0.storage { return owner } else { return nil }
            }
            return KernelEvent(event: event!, kernelName: name, retaining: owners + [self])
        }
    }

    private func validate(global: [Int], local: [Int]?) throws {
        guard (1 ... 3).contains(global.count) else {
            throw KernelLaunchError.workSize(kernel: name, problem: "global size needs 1 to 3 dimensions, got \(global)")
        }
        guard global.allSatisfy({ $0 > 0 }) else {
            throw KernelLaunchError.workSize(kernel: name, problem: "global sizes must be positive, got \(global)")
        }
        guard let local else { return }
        guard local.count == global.count, local.allSatisfy({ $0 > 0 }) else {
            throw KernelLaunchError.workSize(kernel: name, problem: "local size \(local) must be positive and have as many dimensions as global \(global)")
        }
        guard zip(global, local).allSatisfy({ $0 % $1 == 0 }) else {
            throw KernelLaunchError.workSize(kernel: name, problem: "global size \(global) is not a multiple of local size \(local)")
        }
        let groupSize = local.reduce(1, *)
        let limit = program.device.info.maxWorkGroupSize
        guard groupSize <= limit else {
            throw KernelLaunchError.workSize(kernel: name, problem: "work-group of \(groupSize) items exceeds the device limit \(limit)")
        }
    }

    /// What each declared argument takes (`validateKinds`), worked out once from `declared`.
    private enum ArgumentKind {
        case buffer, local
        /// A scalar; its canonical type where the runtime can name it (`canonicalScalarType`), else nil.
        case scalar(String?)
    }

    private static func kinds(_ declared: [(addressSpace: cl_kernel_arg_address_qualifier, type: String, name: String)]?) -> [ArgumentKind]? {
        declared?.map { slot in
            switch Int32(slot.addressSpace) {
            case CL_KERNEL_ARG_ADDRESS_GLOBAL, CL_KERNEL_ARG_ADDRESS_CONSTANT: return .buffer
            case CL_KERNEL_ARG_ADDRESS_LOCAL: return .local
            default: return .scalar(canonicalScalarType(slot.type))
            }
        }
    }

    private func validateKinds(_ arguments: [KernelArgument]) throws {
        guard let kinds = declaredKinds, let declared else { return }
        for (index, (argument, kind)) in zip(arguments, kinds).enumerated() {
            let ok: Bool
            switch (kind, argument.storage) {
            case (.buffer, .memory), (.local, .local), (.scalar(nil), .scalar): ok = true
            case (.scalar(let type?), .scalar(_, let passed)): ok = type == passed
            default: ok = false
            }
            if !ok {
                let type = declared[index].type
                let expected: String
                switch kind {
                case .buffer: expected = "a buffer (\(type))"
                case .local: expected = "__local memory (\(type))"
                case .scalar: expected = "a scalar \(type)"
                }
                throw KernelLaunchError.argumentKind(kernel: name, index: index, expected: expected, got: argument.summary)
            }
        }
    }

    /// A declared scalar type as the runtime names the types it passes (`openCLTypeName`), or nil for the
    /// vector, struct or typedef'd types it cannot name, which are left to the driver's size check.
    static func canonicalScalarType(_ declared: String) -> String? {
        let canonical = declared.replacingOccurrences(of: "const ", with: "")
            .replacingOccurrences(of: "unsigned ", with: "u").trimmingCharacters(in: .whitespaces)
        let known: Set<String> = ["float", "double", "char", "uchar", "short", "ushort", "int", "uint", "long", "ulong"]
        return known.contains(canonical) ? canonical : nil
    }
}

/// Start and end of one command on the device clock (`CL_PROFILING_COMMAND_*`), in nanoseconds.
public struct KernelTiming: Sendable, Equatable {
    public var queuedNanoseconds: UInt64
    public var submittedNanoseconds: UInt64
    public var startNanoseconds: UInt64
    public var endNanoseconds: UInt64

    /// Time the kernel ran on the device.
    public var seconds: Double { Double(endNanoseconds &- startNanoseconds) / 1e9 }
    /// Time from enqueue to completion: includes waiting behind earlier commands.
    public var secondsSinceQueued: Double { Double(endNanoseconds &- queuedNanoseconds) / 1e9 }
}

/// The event of one launch. Keeps the launch's buffers alive until it is released.
public final class KernelEvent: @unchecked Sendable {
    public let kernelName: String
    let event: cl_event
    private let retained: [AnyObject]

    init(event: cl_event, kernelName: String, retaining: [AnyObject]) {
        self.event = event
        self.kernelName = kernelName
        self.retained = retaining
    }

    deinit { clReleaseEvent(event) }

    /// Blocks until the kernel has finished; a failed execution throws.
    public func wait() throws {
        var event: cl_event? = self.event
        try check(clWaitForEvents(1, &event), "clWaitForEvents", "kernel '\(kernelName)'")
    }

    /// Waits, then reads the device's profiling counters.
    public func timing() throws -> KernelTiming {
        try wait()
        func read(_ param: Int32) throws -> UInt64 {
            var value: cl_ulong = 0
            try check(clGetEventProfilingInfo(event, cl_profiling_info(param), MemoryLayout<cl_ulong>.size, &value, nil),
                      "clGetEventProfilingInfo", "kernel '\(kernelName)'")
            return value
        }
        return KernelTiming(queuedNanoseconds: try read(CL_PROFILING_COMMAND_QUEUED),
                            submittedNanoseconds: try read(CL_PROFILING_COMMAND_SUBMIT),
                            startNanoseconds: try read(CL_PROFILING_COMMAND_START),
                            endNanoseconds: try read(CL_PROFILING_COMMAND_END))
    }
}
