import Foundation

/// Where a trial stands. `pending` and `running` are unfinished: a resumed study redoes them.
/// `complete`, `failed` and `diverged` are finished: a resumed study keeps them and never repeats them.
public enum TrialState: String, Codable, Sendable, CaseIterable {
    case pending, running, complete, failed, diverged

    public var isFinished: Bool {
        switch self {
        case .complete, .failed, .diverged: return true
        case .pending, .running: return false
        }
    }

    public static let finished: Set<TrialState> = [.complete, .failed, .diverged]
    public static let unfinished: Set<TrialState> = [.pending, .running]
}

/// One evaluated (or to-be-evaluated) candidate of a study.
///
/// `parameters` are the sampler's own view (for à la carte: `layer0` → menu entry name), `expressions`
/// the printed activation per slot; the store never interprets either. `canonicalKey` identifies the
/// function list for dedup lookups: two trials with the same key are the same candidate, and the second
/// one reuses the first one's score (`duplicateOf` names the trial that was trained).
public struct TrialRecord: Codable, Sendable, Equatable {
    /// Unique within the study, assigned by the caller in proposal order (see `StudyStore.nextTrialNumber`).
    public var number: Int
    /// Free-form grouping: a generation, a population name, a sampler round.
    public var group: String
    public var state: TrialState
    public var parameters: [String: String]
    public var expressions: [String]
    public var canonicalKey: String?
    /// The score the search maximises (validation accuracy by default). `nil` until finished;
    /// 0 for a diverged candidate.
    public var objective: Double?
    /// Test accuracy, set only for the trial(s) finally chosen: the test set never selects.
    public var testAccuracy: Double?
    /// Anything else worth keeping (train accuracy, losses, best epoch, ...).
    public var metrics: [String: Double]
    public var epochs: Int?
    public var seed: UInt64?
    public var device: String?
    public var startedAt: Date?
    public var finishedAt: Date?
    /// Seconds spent training this candidate's share of its population (population time / trained count).
    public var trainSeconds: Double?
    /// The trial number whose score this one reuses, when it was a duplicate and not trained.
    public var duplicateOf: Int?
    /// The worker that holds (or last held) this trial's claim (`WorkerIdentity.id`).
    public var worker: String?
    /// How many times a worker claimed this trial; more than 1 when a stale claim was requeued.
    public var attempts: Int
    /// The island of an island evolution that evaluated this trial (`--island`); nil for every other run.
    public var island: String?

    public init(
        number: Int, group: String = "", state: TrialState = .pending,
        parameters: [String: String] = [:], expressions: [String] = [], canonicalKey: String? = nil,
        objective: Double? = nil, testAccuracy: Double? = nil, metrics: [String: Double] = [:],
        epochs: Int? = nil, seed: UInt64? = nil, device: String? = nil,
        startedAt: Date? = nil, finishedAt: Date? = nil, trainSeconds: Double? = nil, duplicateOf: Int? = nil,
        worker: String? = nil, attempts: Int = 0, island: String? = nil
    ) {
        self.number = number
        self.group = group
        self.state = state
        self.parameters = parameters
        self.expressions = expressions
        self.canonicalKey = canonicalKey
        self.objective = objective
        self.testAccuracy = testAccuracy
        self.metrics = metrics
        self.epochs = epochs
        self.seed = seed
        self.device = device
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.trainSeconds = trainSeconds
        self.duplicateOf = duplicateOf
        self.worker = worker
        self.attempts = attempts
        self.island = island
    }
}

/// Failures of a study store, each naming the study or trial concerned.
public enum StudyStoreError: Error, CustomStringConvertible, Equatable {
    case duplicateTrialNumber(study: String, number: Int)
    case unknownTrial(study: String, number: Int)
    case settingsMismatch(study: String, key: String, stored: String, requested: String)
    case unreadable(path: String, reason: String)
    case notAStudy(path: String)
    case invalidClaimPolicy(String)
    case noSuchStudy(study: String, location: String, known: [String])
    case pointTaken(study: String, parameters: [String: String])

    public var description: String {
        switch self {
        case let .duplicateTrialNumber(study, number):
            return "study '\(study)': trial number \(number) already exists"
        case let .unknownTrial(study, number):
            return "study '\(study)': no trial number \(number)"
        case let .settingsMismatch(study, key, stored, requested):
            return "study '\(study)' was created with \(key)=\(stored) but this run asks for \(key)=\(requested); "
                + "use another --study name or the same settings"
        case let .unreadable(path, reason):
            return "cannot open study database '\(path)': \(reason)"
        case let .notAStudy(path):
            return "'\(path)' is not an afsearch study database (no study table)"
        case let .noSuchStudy(study, location, known):
            return "no study '\(study)' in \(location) (known: \(known.isEmpty ? "none" : known.joined(separator: ", ")))"
        case let .pointTaken(study, parameters):
            return "study '\(study)': another worker already claimed the point \(parameters)"
        case let .invalidClaimPolicy(reason):
            return "invalid worker settings: \(reason)"
        }
    }
}

/// Persistent record of one study: its settings and every trial.
///
/// Contract (what makes a study survive `kill -9`): every method that writes is one transaction, so a batch
/// of trials is either entirely stored or not at all; callers commit each finished batch before proposing
/// the next. On resume, `discardUnfinished()` drops pending/running trials (they are redone); finished
/// trials are kept and their numbers are never reused.
public protocol StudyStore: AnyObject, Sendable {
    /// The study's name (the folder name under `runs/`).
    var studyName: String { get }

    /// The study's settings as a JSON document, or `nil` for a fresh study.
    func settingsJSON() throws -> String?
    func writeSettingsJSON(_ json: String, kind: String) throws
    /// What kind of study this is (`alacarte`, `evolution`, `experiment`, ...), `nil` when not set.
    func kind() throws -> String?

    /// Inserts new trials in one transaction. Fails (and stores none of them) if a number already exists.
    func insert(_ trials: [TrialRecord]) throws
    /// Replaces existing trials (matched by number) in one transaction.
    func update(_ trials: [TrialRecord]) throws
    /// Inserts or replaces, in one transaction.
    func upsert(_ trials: [TrialRecord]) throws

    /// Trials ordered by number; all of them when `states` is nil; only `island`'s when it is set.
    func trials(states: Set<TrialState>?, group: String?, island: String?) throws -> [TrialRecord]
    func trial(number: Int) throws -> TrialRecord?
    /// A finished, trained (not itself a duplicate) trial with this canonical key, if any.
    func finishedTrial(canonicalKey: String) throws -> TrialRecord?
    /// One more than the largest trial number ever stored (0 for an empty study).
    func nextTrialNumber() throws -> Int
    /// Reserves `count` consecutive trial numbers that no other writer of the study will use (an island's
    /// generation) and returns the first. Numbers reserved and never stored are skipped, never reused.
    func reserveTrialNumbers(_ count: Int) throws -> Int
    func count(states: Set<TrialState>?) throws -> Int
    /// The numbers of the trials in `states`, ascending (nothing decoded: a worker's cheap look at what runs).
    func numbers(states: Set<TrialState>) throws -> [Int]
    /// Deletes pending and running trials (only `island`'s when it is set); returns how many there were.
    @discardableResult func discardUnfinished(island: String?) throws -> Int
    /// Finished trials with the highest objective first (ties: lower number first).
    func bestTrials(limit: Int) throws -> [TrialRecord]

    // MARK: workers and claims: several processes on one study (TrialClaims.swift)

    /// Records a worker; returns how many other live workers the study had (0 for the first one).
    func register(_ worker: WorkerIdentity, policy: ClaimPolicy) throws -> Int
    /// Tells the study the worker is alive; its claims stay its own.
    func heartbeat(worker: String) throws
    /// Marks the worker stopped and returns its running claims to the queue.
    func retire(worker: String) throws
    func workers() throws -> [WorkerRecord]
    /// Requeues running claims of workers that stopped beating (or are `deadWorkers`, or unknown); a trial whose
    /// claims reached `policy.maxAttempts` is marked failed instead.
    func recoverStaleClaims(policy: ClaimPolicy, deadWorkers: Set<String>) throws -> ClaimRecovery
    /// Claims the lowest-numbered pending (requeued) trial, if any.
    func claimPending(worker: String) throws -> TrialRecord?
    /// Stores `trial` as a new claim under the next free number, unless the study already holds `budget` trials
    /// (nil). Throws `pointTaken` when another claim already holds the same parameters.
    func claimNew(_ trial: TrialRecord, worker: String, budget: Int) throws -> TrialRecord?
    /// Stores a finished trial if `worker` still holds its claim; false (nothing written) when it lost it.
    func finish(_ trial: TrialRecord, worker: String) throws -> Bool
    /// `finish` for several trials in one transaction (one flush: a pool step's results), in order; per trial
    /// whether it was written.
    func finish(_ trials: [TrialRecord], worker: String) throws -> [Bool]
    /// Trials that finished after `cursor` in the study's finish order (0: all of them).
    func finished(after cursor: Int) throws -> FinishedSince
    /// A worker's look before it proposes: `finished(after:)` and the numbers of the unfinished trials, read
    /// together (one round trip on PostgreSQL).
    func progress(after cursor: Int) throws -> StudyProgress

    // MARK: islands: several evolutions on one study exchanging individuals (Migrants.swift)

    /// An island's barrier after `generation`, in one transaction: publishes `outgoing` as the island's migrants
    /// and takes in the other islands' newest ones (`MigrantSelection`), recording which. When the island has
    /// passed this barrier before (a resumed island replaying), it publishes nothing and returns exactly the
    /// migrants it took then.
    func exchangeMigrants(island: String, generation: Int, outgoing: [OutgoingMigrant]) throws -> [Migrant]
    /// Every published migrant, by seq.
    func migrants() throws -> [Migrant]
    /// Every barrier an island passed, with what it took in, ordered by island and generation.
    func immigrations() throws -> [Immigration]
}

extension StudyStore {
    public func trials(states: Set<TrialState>? = nil) throws -> [TrialRecord] {
        try trials(states: states, group: nil, island: nil)
    }

    public func trials(states: Set<TrialState>?, group: String?) throws -> [TrialRecord] {
        try trials(states: states, group: group, island: nil)
    }

    /// Deletes every pending and running trial of the study.
    @discardableResult public func discardUnfinished() throws -> Int {
        try discardUnfinished(island: nil)
    }

    /// Decodes the stored settings, or `nil` for a fresh study.
    public func settings<S: Decodable>(as type: S.Type) throws -> S? {
        guard let json = try settingsJSON() else { return nil }
        return try JSONDecoder().decode(S.self, from: Data(json.utf8))
    }

    public func writeSettings<S: Encodable>(_ settings: S, kind: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let data = try encoder.encode(settings)
        try writeSettingsJSON(String(decoding: data, as: UTF8.self), kind: kind)
    }
}
