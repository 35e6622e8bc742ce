import Foundation

/// A throwaway PostgreSQL cluster for tests: `initdb` in a temporary folder, a server on a free loopback port,
/// removed when the test process exits. Built from Debian's `postgresql` package (`make test` installs it).
/// When it cannot start, `shared()` throws with the reason: a storage test then fails, it never skips.
public final class PostgresTestServer: @unchecked Sendable {
    /// `postgresql://afsearch@127.0.0.1:PORT/afsearch` (trust authentication on loopback only).
    public let url: String
    public let port: Int
    private let folder: URL

    nonisolated(unsafe) private static var server: PostgresTestServer?
    private static let lock = NSLock()

    /// The test process's one server, started on first use.
    public static func shared() throws -> PostgresTestServer {
        try lock.withLock {
            if let server { return server }
            let started = try PostgresTestServer()
            server = started
            atexit { PostgresTestServer.server?.stop() }
            return started
        }
    }

    private init() throws {
        let binaries = try Self.findBinaries()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("afsearch-pg-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        // initdb refuses to run as root: the cluster then belongs to the package's `postgres` user.
        let asUser = getuid() == 0 ? "postgres" : nil
        if let asUser { try Self.run("/bin/chown", [asUser, folder.path], asUser: nil) }
        let port = try Self.freePort()
        let data = folder.appendingPathComponent("data").path
        try Self.run(binaries.appendingPathComponent("initdb").path,
                     ["-D", data, "-U", "afsearch", "-A", "trust", "--no-sync", "-E", "UTF8"], asUser: asUser)
        try Self.run(binaries.appendingPathComponent("pg_ctl").path, [
            "-D", data, "-l", folder.appendingPathComponent("server.log").path, "-w", "-t", "60",
            "-o", "-p \(port) -k \(folder.path) -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            "start",
        ], asUser: asUser)
        try Self.run(binaries.appendingPathComponent("createdb").path,
                     ["-h", "127.0.0.1", "-p", String(port), "-U", "afsearch", "afsearch"], asUser: asUser)
        (self.folder, self.port) = (folder, port)
        url = "postgresql://afsearch@127.0.0.1:\(port)/afsearch"
    }

    /// Stops the server (SIGQUIT: immediate shutdown) and removes its folder. Plain system calls only: this
    /// runs from `atexit`, where Foundation's `Process` can no longer wait for a child.
    public func stop() {
        let pidFile = folder.appendingPathComponent("data/postmaster.pid").path
        if let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
           let line = text.split(separator: "\n").first, let pid = pid_t(line.trimmingCharacters(in: .whitespaces)) {
            kill(pid, SIGQUIT)
            for _ in 0..<100 where kill(pid, 0) == 0 { usleep(50_000) }
        }
        try? FileManager.default.removeItem(at: folder)
    }

    /// The newest /usr/lib/postgresql/<version>/bin holding initdb (Debian keeps it off PATH).
    private static func findBinaries() throws -> URL {
        let root = URL(fileURLWithPath: "/usr/lib/postgresql")
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? [])
            .compactMap { Int($0) }.sorted(by: >)
        for version in versions {
            let bin = root.appendingPathComponent("\(version)/bin")
            if FileManager.default.isExecutableFile(atPath: bin.appendingPathComponent("initdb").path) { return bin }
        }
        throw PostgresTestServerError("no PostgreSQL server under /usr/lib/postgresql/*/bin (initdb); install Debian's postgresql package (make test does)")
    }

    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw PostgresTestServerError("socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw PostgresTestServerError("no free loopback port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Runs a tool and waits for it, with posix_spawn and waitpid rather than Foundation's `Process`: the server
    /// that pg_ctl starts outlives it, and `Process` counts a child as running while any descendant holds its
    /// descriptors. The child gets only stdin, stdout and stderr (closefrom 3), so the server holds none of the
    /// test process's descriptors either (other tests' pipes would never close).
    @discardableResult
    private static func run(_ tool: String, _ arguments: [String], asUser: String?) throws -> String {
        let argv = asUser.map { ["/usr/sbin/runuser", "-u", $0, "--", tool] } ?? [tool]
        let all = argv + arguments
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("afsearch-pg-out-\(UUID().uuidString)").path
        defer { unlink(log) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // glibc ≥ 2.34 has it; Swift's Glibc module does not export it, so it is looked up by name.
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        if let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") {
            _ = unsafeBitCast(symbol, to: CloseFrom.self)(&actions, 3)
        }
        let cArguments = all.map { strdup($0) } + [nil]
        defer { cArguments.forEach { free($0) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, argv[0], &actions, nil, cArguments, environ)
        guard spawned == 0 else { throw PostgresTestServerError("cannot start \(argv[0]): \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        let exited = (status & 0x7f) == 0
        let code = (status >> 8) & 0xff
        guard exited && code == 0 else {
            throw PostgresTestServerError("\(URL(fileURLWithPath: tool).lastPathComponent) \(arguments.joined(separator: " ")) failed "
                                          + "(status \(status)): \(text)")
        }
        return text
    }
}

public struct PostgresTestServerError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
