import Foundation

/// One process working on a study: `host:pid:start`, unique across machines and restarts.
public struct WorkerIdentity: Sendable, Codable, Equatable {
    public var id: String
    public var host: String
    public var pid: Int
    public var device: String?

    public init(id: String, host: String, pid: Int, device: String?) {
        self.id = id
        self.host = host
        self.pid = pid
        self.device = device
    }

    /// This process.
    public static func current(device: String?) -> WorkerIdentity {
        let host = ProcessInfo.processInfo.hostName
        let pid = Int(getpid())
        let start = String(DispatchTime.now().uptimeNanoseconds, radix: 36)
        return WorkerIdentity(id: "\(host):\(pid):\(start)", host: host, pid: pid, device: device)
    }

    /// Whether this worker is a process of this machine that no longer exists (killed, crashed): its claims
    /// can be requeued at once rather than after the grace period.
    public var isDeadLocalProcess: Bool {
        guard host == ProcessInfo.processInfo.hostName, pid > 0, pid != Int(getpid()) else { return false }
        return kill(pid_t(pid), 0) != 0 && errno == ESRCH
    }
}

/// A worker as the study records it.
public struct WorkerRecord: Sendable, Codable, Equatable {
    public var identity: WorkerIdentity
    /// 0 for the first worker that found no other live one; the next live one gets 1, ...
    public var ordinal: Int
    public var startedAt: Date
    public var heartbeatAt: Date
    public var stoppedAt: Date?
}

/// How workers keep and lose their claims.
public struct ClaimPolicy: Sendable, Codable, Equatable {
    /// Seconds between heartbeats while a worker holds claims.
    public var heartbeatSeconds: Double
    /// A claim whose worker has not beaten for this long is requeued (or failed once `maxAttempts` is spent).
    public var staleAfterSeconds: Double
    /// Claims of one trial at most; a trial whose last allowed claim goes stale is marked failed.
    public var maxAttempts: Int

    public init(heartbeatSeconds: Double = 10, staleAfterSeconds: Double = 60, maxAttempts: Int = 3) {
        self.heartbeatSeconds = heartbeatSeconds
        self.staleAfterSeconds = staleAfterSeconds
        self.maxAttempts = maxAttempts
    }

    public func validate() throws {
        guard heartbeatSeconds > 0, heartbeatSeconds.isFinite else {
            throw StudyStoreError.invalidClaimPolicy("the heartbeat interval must be positive, got \(heartbeatSeconds)")
        }
        guard staleAfterSeconds > heartbeatSeconds, staleAfterSeconds.isFinite else {
            throw StudyStoreError.invalidClaimPolicy(
                "the grace period (\(staleAfterSeconds) s) must be longer than the heartbeat interval (\(heartbeatSeconds) s)")
        }
        guard maxAttempts >= 1 else {
            throw StudyStoreError.invalidClaimPolicy("a trial needs at least 1 attempt, got \(maxAttempts)")
        }
    }
}

/// What a sweep for stale claims did.
public struct ClaimRecovery: Sendable, Equatable {
    public var requeued: [Int] = []
    public var failed: [Int] = []
}

/// Trials that finished after a point of the study's finish order (`TrialRecord`s in that order).
public struct FinishedSince: Sendable {
    public var trials: [TrialRecord]
    /// Pass this as `after` next time.
    public var cursor: Int
}

/// What finished since a cursor, and what still runs, as one read (`StudyStore.progress(after:)`).
public struct StudyProgress: Sendable {
    public var finished: FinishedSince
    /// The numbers of the pending and running trials, ascending.
    public var unfinished: [Int]
}

/// Beats a worker's heartbeat on a thread of its own, so that a long training step (which blocks the
/// caller) never lets the worker's claims go stale. Stop it before the worker retires.
public final class HeartbeatThread: @unchecked Sendable {
    private let condition = NSCondition()
    private var stopped = false
    private var thread: Thread?

    public init(store: any StudyStore, worker: String, every seconds: Double) {
        let thread = Thread { [condition] in
            while true {
                condition.lock()
                let deadline = Date(timeIntervalSinceNow: seconds)
                while !self.stopped && condition.wait(until: deadline) {}
                let stop = self.stopped
                condition.unlock()
                if stop { return }
                // A failed beat (server restarting, network) is retried at the next one; the grace period
                // spans several beats.
                try? store.heartbeat(worker: worker)
            }
        }
        thread.name = "afsearch heartbeat"
        self.thread = thread
        thread.start()
    }

    public func stop() {
        condition.lock()
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    deinit { stop() }
}
