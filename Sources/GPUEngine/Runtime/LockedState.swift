import Foundation

/// A value behind an `NSLock`: the runtime's one tool for shared mutable state (device registry,
/// program cache tables, counters), and the command line's shared state. `withLock` never calls out to OpenCL while holding the lock
/// unless the caller does so deliberately, and the runtime only does that for per-key build slots.
public final class LockedState<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    public init(_ value: Value) { self.value = value }

    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
