import ArgumentParser
import Foundation
import GPUEngine

/// `afsearch workers --devices all -- alacarte …` (or `-- evolve …`): one worker process per OpenCL device (or per
/// entry of a list), all on one study, stopped together on Ctrl-C. Evolve workers are islands: worker N runs
/// `evolve … --island N`.
struct WorkersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workers",
        abstract: "Run one worker per device on one study: afsearch workers --devices all -- alacarte --storage URL …",
        discussion: """
            Each worker is `afsearch <command>` with AFSEARCH_DEVICE set to its device, its output prefixed with \
            [worker N device D]. The workers share the study through its storage (--storage in the command; the \
            default runs/<study>/study.sqlite works for workers of one machine). Ctrl-C (or SIGTERM) stops them \
            all; running them again continues the study. Exits 0 when every worker did.

            With `evolve`, worker N evolves island N of the study (`evolve … --island N`, with the command's \
            --migrate-every and --migrants): the islands exchange their fittest individuals through the storage. \
            Islands on other machines join with `afsearch evolve … --storage postgresql://… --island N`, N not used \
            by another island of the study.
            """)

    @Option(name: .long, help: ArgumentHelp(
        "all (every OpenCL device), or a comma-separated list of device indices or name substrings (`afsearch devices`); a device listed twice gets two workers.",
        valueName: "devices"))
    var devices = "all"

    @Option(name: .long, help: "Workers per listed device.")
    var perDevice = 1

    @Flag(name: .long, help: "Pin worker N to CPU core N (taskset): a simulation of separate devices on one multi-core CPU.")
    var pinCores = false

    @Argument(parsing: .postTerminator, help: ArgumentHelp("The afsearch command each worker runs (after --).", valueName: "command"))
    var command: [String] = []

    func validate() throws {
        try checkCount(perDevice, option: "--per-device", max: 64)
        guard let first = command.first else {
            throw ValidationError("no command: expected `afsearch workers --devices all -- alacarte --dataset … --storage URL`")
        }
        guard Self.commands.contains(first) else {
            throw ValidationError("workers run `alacarte` (trials claimed from one study) or `evolve` (one island each), got '\(first)'")
        }
        if first == "evolve", command.contains(where: { $0 == "--island" || $0.hasPrefix("--island=") }) {
            throw ValidationError("the command names --island; workers number the islands (worker N evolves island N)")
        }
        if command.contains(where: { $0 == "--device" || $0.hasPrefix("--device=") }) {
            throw ValidationError("the command names --device; workers choose each worker's device (--devices)")
        }
        if pinCores && Self.taskset == nil { throw ValidationError("--pin-cores needs taskset (Debian: util-linux)") }
    }

    static let commands: Set<String> = ["alacarte", "evolve"]

    /// Worker `index`'s arguments: the command, and for `evolve` its island.
    static func arguments(_ command: [String], worker index: Int) -> [String] {
        command.first == "evolve" ? command + ["--island", String(index)] : command
    }

    static let taskset: String? = ["/usr/bin/taskset", "/bin/taskset"].first { FileManager.default.isExecutableFile(atPath: $0) }

    func run() async throws {
        let available = try ComputeDevice.list()
        var chosen: [Int] = []
        if devices.trimmingCharacters(in: .whitespaces).lowercased() == "all" {
            chosen = available.map(\.index)
        } else {
            for part in devices.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !part.isEmpty {
                do {
                    chosen.append(try DeviceSelector.resolve(part, among: available, source: "--devices"))
                } catch {
                    throw ValidationError("--devices: \(error)")
                }
            }
        }
        guard !chosen.isEmpty else { throw ValidationError("--devices lists no device (see `afsearch devices`)") }
        let assignments = chosen.flatMap { Array(repeating: $0, count: perDevice) }
        let binary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let cores = ProcessInfo.processInfo.activeProcessorCount

        let group = WorkerGroup()
        for (index, device) in assignments.enumerated() {
            var environment = ProcessInfo.processInfo.environment
            environment[DeviceSelector.environmentVariable] = String(device)
            var arguments = Self.arguments(command, worker: index)
            var executable = binary.path
            if pinCores, let taskset = Self.taskset {
                arguments = ["-c", String(index % cores), binary.path] + arguments
                executable = taskset
            }
            let label = "[worker \(index) device \(device)] "
            try group.start(executable: executable, arguments: arguments, environment: environment, label: label)
            FileHandle.standardError.write(Data("\(label)started: afsearch \(Self.arguments(command, worker: index).joined(separator: " "))\n".utf8))
        }
        let statuses = group.waitForAll()
        let failed = statuses.enumerated().filter { $0.element != 0 }
        if group.interrupted { throw ExitCode(130) }
        if let first = failed.first {
            throw CommandFailure("\(failed.count) of \(statuses.count) workers failed (worker \(first.offset) exited with \(first.element))")
        }
    }
}

/// Child processes whose output is relayed line by line with a prefix, stopped together on SIGINT/SIGTERM.
private final class WorkerGroup: @unchecked Sendable {
    private var processes: [Process] = []
    private var signalSources: [DispatchSourceSignal] = []
    private let lock = NSLock()
    private(set) var interrupted = false

    init() {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { [weak self] in self?.stopAll() }
            source.resume()
            signalSources.append(source)
        }
    }

    func start(executable: String, arguments: [String], environment: [String: String], label: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = Self.relay(to: .standardOutput, label: label)
        process.standardError = Self.relay(to: .standardError, label: label)
        try process.run()
        lock.withLock { processes.append(process) }
    }

    /// A pipe whose lines are written to `target` with `label` in front.
    private static func relay(to target: FileHandle, label: String) -> Pipe {
        let pipe = Pipe()
        let buffer = LineBuffer()
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let data = handle.availableData
            if data.isEmpty {
                handle.readabilityHandler = nil
                if let rest = buffer.flush() { target.write(Data((label + rest + "\n").utf8)) }
                return
            }
            for line in buffer.append(data) { target.write(Data((label + line + "\n").utf8)) }
        }
        return pipe
    }

    private func stopAll() {
        let running = lock.withLock { () -> [Process] in
            interrupted = true
            return processes.filter(\.isRunning)
        }
        FileHandle.standardError.write(Data("stopping \(running.count) workers\n".utf8))
        for process in running { kill(process.processIdentifier, SIGTERM) }
    }

    func waitForAll() -> [Int32] {
        let all = lock.withLock { processes }
        return all.map { process in
            process.waitUntilExit()
            return process.terminationStatus
        }
    }
}

/// Splits a byte stream into lines (a progress line rewritten with `\r` counts as a line).
private final class LineBuffer: @unchecked Sendable {
    private var pending = Data()
    private let lock = NSLock()

    func append(_ data: Data) -> [String] {
        lock.withLock {
            pending.append(data)
            var lines: [String] = []
            while let end = pending.firstIndex(where: { $0 == 10 || $0 == 13 }) {
                let line = String(decoding: pending[pending.startIndex..<end], as: UTF8.self)
                pending = Data(pending[pending.index(after: end)...])
                if !line.isEmpty { lines.append(line) }
            }
            return lines
        }
    }

    func flush() -> String? {
        lock.withLock {
            defer { pending = Data() }
            return pending.isEmpty ? nil : String(decoding: pending, as: UTF8.self)
        }
    }
}
