import COpenCL
import Foundation

/// A program that failed to build: the driver's full log plus the source lines the log points to.
public struct ProgramBuildError: Error, CustomStringConvertible, Sendable {
    /// A source line named by a diagnostic in the log (`<file>:LINE:COLUMN: error: message`).
    public struct PointedLine: Equatable, Sendable {
        /// 1-based, as in the log.
        public var number: Int
        public var column: Int
        public var text: String
        public var message: String
    }

    public let device: String
    public let options: String
    public let code: Int32
    public let log: String
    public let pointedLines: [PointedLine]

    public var description: String {
        var text = "OpenCL program failed to build on \(device)"
        text += options.isEmpty ? "" : " (options: \(options))"
        text += ": \(OpenCLError.name(of: code))\n--- build log ---\n\(log)\n"
        if !pointedLines.isEmpty {
            text += "--- source lines ---\n"
            for line in pointedLines {
                let gutter = String(line.number).leftPadded(to: 5) + " | "
                text += gutter + line.text + "\n"
                if line.column > 0 {
                    text += String(repeating: " ", count: gutter.count + line.column - 1) + "^ " + line.message + "\n"
                }
            }
        }
        return text
    }

    /// Finds the diagnostics in a clang-style log and pairs each with its line of `source`. Drivers
    /// write the position in one of two orders: `name:LINE:COLUMN: error: message` (clang, Intel, AMD,
    /// NVIDIA) or `error: name:LINE:COLUMN: message` (PoCL). Errors are listed; warnings only when the
    /// log holds no error. A line is listed once, at its first diagnostic.
    public static func pointedLines(log: String, source: String) -> [PointedLine] {
        let sourceLines = source.split(separator: "\n", omittingEmptySubsequences: false)
        let kinds = ["fatal error", "error", "warning"]
        var errors: [PointedLine] = [], warnings: [PointedLine] = []
        for logLine in log.split(separator: "\n") {
            let parts = logLine.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard parts.count >= 4 else { continue }
            for i in 0 ..< parts.count - 3 {
                guard let number = Int(parts[i + 1]), let column = Int(parts[i + 2]) else { continue }
                var rest = Array(parts[(i + 3)...])
                var kind = rest[0].trimmingCharacters(in: .whitespaces)
                if kinds.contains(kind) {
                    rest.removeFirst()
                } else if let leading = kinds.first(where: { parts[0].trimmingCharacters(in: .whitespaces) == $0 }) {
                    kind = leading
                } else {
                    break
                }
                guard number >= 1, number <= sourceLines.count else { break }
                let message = rest.joined(separator: ":").trimmingCharacters(in: .whitespaces)
                let pointed = PointedLine(number: number, column: column, text: String(sourceLines[number - 1]),
                                          message: "\(kind): \(message)")
                if kind != "warning" {
                    if !errors.contains(where: { $0.number == number }) { errors.append(pointed) }
                } else if !warnings.contains(where: { $0.number == number }) {
                    warnings.append(pointed)
                }
                break
            }
        }
        return errors.isEmpty ? warnings : errors
    }
}

private extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}

/// A program built for one device. Make it with `ComputeDevice.program(source:options:)`, which goes
/// through the program cache; ask it for kernels by name.
public final class ComputeProgram: @unchecked Sendable {
    public let device: ComputeDevice
    public let options: String
    /// The `__kernel` functions it defines (`CL_PROGRAM_KERNEL_NAMES`), sorted.
    public let kernelNames: [String]
    let program: cl_program

    private init(device: ComputeDevice, program: cl_program, options: String) throws {
        self.device = device
        self.program = program
        self.options = options
        let names = try readInfoString("clGetProgramInfo") {
            clGetProgramInfo(program, cl_program_info(CL_PROGRAM_KERNEL_NAMES), $0, $1, $2)
        }
        kernelNames = names.split(separator: ";").map(String.init).sorted()
    }

    deinit { clReleaseProgram(program) }

    /// What the driver gets: the caller's options plus `-cl-kernel-arg-info`, which makes drivers
    /// keep each argument's address space and type so `ComputeKernel` can check launches (PoCL
    /// drops that information without it). It changes no generated code.
    static func driverOptions(_ options: String) -> String {
        options.isEmpty ? "-cl-kernel-arg-info" : options + " -cl-kernel-arg-info"
    }

    /// Compiles `source` for `device`, without any cache.
    static func build(source: String, options: String, device: ComputeDevice) throws -> ComputeProgram {
        var status: cl_int = CL_SUCCESS
        let made: cl_program? = source.withCString { text in
            var pointer: UnsafePointer<CChar>? = text
            var length = strlen(text)
            return clCreateProgramWithSource(device.context, 1, &pointer, &length, &status)
        }
        guard let made, status == CL_SUCCESS else {
            throw OpenCLError(code: status, call: "clCreateProgramWithSource", detail: device.info.name)
        }
        return try finishBuild(made, source: source, options: options, device: device)
    }

    /// Loads a device binary (from `binary()`), as the disk cache does. Throws when the driver
    /// rejects it; the cache then rebuilds from source.
    static func load(binary: [UInt8], options: String, device: ComputeDevice) throws -> ComputeProgram {
        var status: cl_int = CL_SUCCESS
        var binaryStatus: cl_int = CL_SUCCESS
        var id: cl_device_id? = device.deviceID
        var length = binary.count
        let made: cl_program? = binary.withUnsafeBufferPointer { bytes in
            var pointer: UnsafePointer<UInt8>? = bytes.baseAddress
            return clCreateProgramWithBinary(device.context, 1, &id, &length, &pointer, &binaryStatus, &status)
        }
        guard let made, status == CL_SUCCESS, binaryStatus == CL_SUCCESS else {
            let code = status != CL_SUCCESS ? status : binaryStatus
            throw OpenCLError(code: code, call: "clCreateProgramWithBinary", detail: device.info.name)
        }
        return try finishBuild(made, source: "", options: options, device: device)
    }

    private static func finishBuild(_ program: cl_program, source: String, options: String,
                                    device: ComputeDevice) throws -> ComputeProgram {
        var id: cl_device_id? = device.deviceID
        let status = clBuildProgram(program, 1, &id, Self.driverOptions(options), nil, nil)
        if status != CL_SUCCESS {
            let log = (try? readInfoString("clGetProgramBuildInfo") {
                clGetProgramBuildInfo(program, device.deviceID, cl_program_build_info(CL_PROGRAM_BUILD_LOG), $0, $1, $2)
            }) ?? "(the driver returned no build log)"
            clReleaseProgram(program)
            if status == CL_BUILD_PROGRAM_FAILURE || status == CL_INVALID_BUILD_OPTIONS || !log.isEmpty {
                throw ProgramBuildError(device: device.info.name, options: options, code: status, log: log,
                                        pointedLines: ProgramBuildError.pointedLines(log: log, source: source))
            }
            throw OpenCLError(code: status, call: "clBuildProgram", detail: device.info.name)
        }
        do {
            return try ComputeProgram(device: device, program: program, options: options)
        } catch {
            clReleaseProgram(program)
            throw error
        }
    }

    /// The device binary (`CL_PROGRAM_BINARIES`) for the disk cache.
    func binary() throws -> [UInt8] {
        var size = 0
        try check(clGetProgramInfo(program, cl_program_info(CL_PROGRAM_BINARY_SIZES), MemoryLayout<Int>.size, &size, nil),
                  "clGetProgramInfo", "CL_PROGRAM_BINARY_SIZES")
        guard size > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: size)
        try bytes.withUnsafeMutableBufferPointer { buffer in
            var pointer: UnsafeMutablePointer<UInt8>? = buffer.baseAddress
            try check(clGetProgramInfo(program, cl_program_info(CL_PROGRAM_BINARIES), MemoryLayout<UnsafeMutablePointer<UInt8>?>.size,
                                       &pointer, nil), "clGetProgramInfo", "CL_PROGRAM_BINARIES")
        }
        return bytes
    }

    /// A new kernel object for the `__kernel` function `name`. Each call returns a fresh object, so
    /// two threads that each take their own kernel never contend for its argument lock.
    public func kernel(_ name: String) throws -> ComputeKernel {
        guard kernelNames.contains(name) else {
            throw KernelLaunchError.unknownKernel(name: name, available: kernelNames)
        }
        return try ComputeKernel(program: self, name: name)
    }
}
