import CPostgres
import Foundation

/// One PostgreSQL connection through libpq, used synchronously (the study store's protocol is synchronous, and
/// libpq's blocking calls need no event loop, so nothing here can wait on a thread it also needs).
///
/// libpq resolves what the URL leaves out from the `PG*` variables and `~/.pgpass` and honours `sslmode`, as
/// psql does. Nothing here prints the URL: `description` names user, host, port and database only.
final class PostgresConnection: @unchecked Sendable {
    // libpq connections are not thread-safe; every use holds `lock`.
    private let lock = NSRecursiveLock()
    private var connection: OpaquePointer?
    /// Statements prepared on this connection, by their text: parsed and planned once, then only executed.
    private var prepared: [String: String] = [:]
    let description: String

    init(url: String) throws {
        guard let connection = PQconnectdb(url) else { throw PostgresError.connect(target: "PostgreSQL", reason: "out of memory") }
        let target = Self.describe(connection)
        guard PQstatus(connection) == CONNECTION_OK else {
            let reason = Self.message(connection)
            PQfinish(connection)
            throw PostgresError.connect(target: target, reason: reason)
        }
        self.connection = connection
        description = target
        // Notices (e.g. "relation already exists, skipping") are not the user's business.
        _ = try? execute("SET client_min_messages = warning")
    }

    deinit { if let connection { PQfinish(connection) } }

    /// `user@host:port/database`, never the password.
    private static func describe(_ connection: OpaquePointer) -> String {
        func text(_ value: UnsafeMutablePointer<CChar>?) -> String { value.map { String(cString: $0) } ?? "" }
        var host = text(PQhost(connection))
        if host.hasPrefix("/") { host = "socket \(host)" }
        return "\(text(PQuser(connection)))@\(host):\(text(PQport(connection)))/\(text(PQdb(connection)))"
    }

    /// A failed result's SQLSTATE and message.
    private static func failure(_ result: OpaquePointer, _ connection: OpaquePointer) -> PostgresError {
        let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
        let reason = PQresultErrorMessage(result).map { String(cString: $0) } ?? message(connection)
        return PostgresError.statement(state: state, reason: reason.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    private static func message(_ connection: OpaquePointer?) -> String {
        guard let connection, let text = PQerrorMessage(connection) else { return "unknown error" }
        return String(cString: text).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Runs one statement with text parameters (`$1`, `$2`, ...; nil is SQL NULL) and returns its rows.
    @discardableResult
    ///
    /// Statements are prepared once per connection and then planned by PostgreSQL's plan cache (a generic plan
    /// once it is no dearer than the custom ones). That is safe for the reads of what finished too, whose best
    /// plan depends on the cursor (`finished_seq > $2`: a few rows for a worker that keeps up, the whole study for
    /// one that starts): the only index on `finished_seq` is the partial (study, finished_seq) one, and the
    /// generic plan scans it in both cases (EXPLAIN at 100k trials: 0.4 ms for 10 rows, 157 ms for all 100k).
    /// Until 2026-12-07 every statement was planned per call (`force_custom_plan`): 0.1 ms more per statement.
    func execute(_ sql: String, _ parameters: [String?] = []) throws -> PostgresRows {
        try lock.withLock {
            guard let connection else { throw PostgresError.closed }
            let copies = parameters.map { $0.flatMap { strdup($0) } }
            defer { copies.forEach { free($0) } }
            let values: [UnsafePointer<CChar>?] = copies.map { $0.map { UnsafePointer($0) } }
            let name = try statementName(sql, parameterCount: parameters.count, connection: connection)
            let result = values.withUnsafeBufferPointer { buffer in
                PQexecPrepared(connection, name, Int32(parameters.count), buffer.baseAddress, nil, nil, 0)
            }
            guard let result else { throw PostgresError.statement(state: nil, reason: Self.message(connection)) }
            defer { PQclear(result) }
            switch PQresultStatus(result) {
            case PGRES_COMMAND_OK, PGRES_TUPLES_OK:
                return PostgresRows(result)
            default:
                throw Self.failure(result, connection)
            }
        }
    }

    /// The name of `sql` prepared on this connection (preparing it on first use). Transaction control
    /// (BEGIN, COMMIT, …) is prepared like any statement.
    private func statementName(_ sql: String, parameterCount: Int, connection: OpaquePointer) throws -> String {
        if let name = prepared[sql] { return name }
        let name = "afs\(prepared.count)"
        guard let result = PQprepare(connection, name, sql, Int32(parameterCount), nil) else {
            throw PostgresError.statement(state: nil, reason: Self.message(connection))
        }
        defer { PQclear(result) }
        guard PQresultStatus(result) == PGRES_COMMAND_OK else { throw Self.failure(result, connection) }
        prepared[sql] = name
        return name
    }

    /// Runs several statements without parameters (a schema step), in the current transaction if any.
    func executeScript(_ sql: String) throws {
        try lock.withLock {
            guard let connection else { throw PostgresError.closed }
            guard let result = PQexec(connection, sql) else {
                throw PostgresError.statement(state: nil, reason: Self.message(connection))
            }
            defer { PQclear(result) }
            let status = PQresultStatus(result)
            guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else { throw Self.failure(result, connection) }
        }
    }

    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws. A serialisation
    /// failure or deadlock (which PostgreSQL resolves by aborting one side) is retried a few times.
    func transaction<T>(_ body: () throws -> T) throws -> T {
        try lock.withLock {
            var attempt = 0
            while true {
                attempt += 1
                try execute("BEGIN")
                do {
                    let value = try body()
                    try execute("COMMIT")
                    return value
                } catch {
                    _ = try? execute("ROLLBACK")
                    if case let PostgresError.statement(state, _) = error, ["40001", "40P01"].contains(state ?? ""),
                       attempt < 5 {
                        continue
                    }
                    throw error
                }
            }
        }
    }
}

/// The rows of one result, copied out of libpq's buffer (text format), addressed by column name.
struct PostgresRows: Sendable {
    let columns: [String]
    let rows: [[String?]]

    init(_ result: OpaquePointer) {
        let fieldCount = Int(PQnfields(result))
        columns = (0..<fieldCount).map { String(cString: PQfname(result, Int32($0))) }
        rows = (0..<Int(PQntuples(result))).map { row in
            (0..<fieldCount).map { column in
                PQgetisnull(result, Int32(row), Int32(column)) == 1
                    ? nil : String(cString: PQgetvalue(result, Int32(row), Int32(column)))
            }
        }
    }

    var count: Int { rows.count }

    /// The first row's first column.
    var scalar: String? { rows.first?.first ?? nil }

    func row(_ index: Int) -> PostgresRow { PostgresRow(columns: columns, values: rows[index]) }
    var all: [PostgresRow] { rows.indices.map(row) }
}

struct PostgresRow {
    let columns: [String]
    let values: [String?]

    subscript(_ name: String) -> String? {
        guard let index = columns.firstIndex(of: name) else { return nil }
        return values[index]
    }
    func int(_ name: String) -> Int? { self[name].flatMap { Int($0) } }
    func double(_ name: String) -> Double? { self[name].flatMap { Double($0) } }
}

enum PostgresError: Error, CustomStringConvertible {
    case connect(target: String, reason: String)
    case statement(state: String?, reason: String)
    case closed

    var description: String {
        switch self {
        case let .connect(target, reason): return "cannot connect to PostgreSQL (\(target)): \(reason)"
        case let .statement(state, reason): return "PostgreSQL: \(reason)" + (state.map { " [SQLSTATE \($0)]" } ?? "")
        case .closed: return "PostgreSQL: the connection is closed"
        }
    }
}
