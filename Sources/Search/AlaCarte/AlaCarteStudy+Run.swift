import Foundation
import GPUEngine

/// What one worker knows of its study: every finished trial (read incrementally in finish order) and the
/// points still claimed by any worker.
private struct StudyView {
    var observations: [Observation] = []
    var known = Set<Int>()
    var seen = Set<[Int]>()
    var cursor = 0
    var numberOfKey: [String: Int] = [:]
    var divergedCount = 0
    /// Unfinished trials of all workers, by number (refreshed before each proposal).
    var unfinished: [Int: [Int]] = [:]

    mutating func add(_ trial: TrialRecord, point: [Int]) {
        guard known.insert(trial.number).inserted else { return }
        observations.append(Observation(number: trial.number, point: point, objective: trial.objective ?? 0))
        seen.insert(point)
        if let key = trial.canonicalKey, trial.duplicateOf == nil, numberOfKey[key] == nil { numberOfKey[key] = trial.number }
        if trial.state == .diverged { divergedCount += 1 }
    }
}

extension AlaCarteStudy {
    /// Runs this process as one worker of the study until the study holds `settings.trials` finished trials
    /// (or the space is exhausted), then scores the best trial once on the test split.
    public func run(worker: WorkerIdentity? = nil, policy: ClaimPolicy = ClaimPolicy(),
                    progress: (@Sendable (AlaCarteProgress) -> Void)? = nil) async throws -> AlaCarteOutcome {
        let clock = Stopwatch()
        try policy.validate()
        try prepareStore()
        let me = worker ?? .current(device: evaluator.deviceDescription)
        let ordinal = try store.register(me, policy: policy)
        let heartbeat = HeartbeatThread(store: store, worker: me.id, every: policy.heartbeatSeconds)
        var retired = false
        defer {
            heartbeat.stop()
            // A run that failed returns its claims at once (a killed one leaves them to the grace period).
            if !retired { try? store.retire(worker: me.id) }
        }
        var requeued = try recover(policy: policy).requeued.count

        var view = StudyView()
        func sync() throws {
            let look = try store.progress(after: view.cursor)
            let news = look.finished
            for trial in news.trials where trial.state.isFinished {
                guard let point = space.point(parameters: trial.parameters) else {
                    throw AlaCarteError.storeMismatch(
                        "study '\(store.studyName)' trial \(trial.number) has parameters \(trial.parameters) outside this menu")
                }
                view.add(trial, point: point)
            }
            view.cursor = news.cursor
            // What runs, by number; only trials not seen running before are read (a number's point never changes).
            var unfinished: [Int: [Int]] = [:]
            for number in look.unfinished {
                if let point = view.unfinished[number] {
                    unfinished[number] = point
                } else if let trial = try store.trial(number: number), let point = space.point(parameters: trial.parameters) {
                    unfinished[number] = point
                }
            }
            view.unfinished = unfinished
        }
        try sync()
        let resumed = view.observations.count
        // The first live worker draws today's sequence; a second one at the same time draws its own.
        var seed = SeededGenerator.derive(settings.seed, UInt64(try store.nextTrialNumber()))
        if ordinal > 0 { seed = SeededGenerator.derive(seed, UInt64(ordinal)) }
        var generator = SeededGenerator(seed: seed)
        var samplerSeconds = 0.0, storeSeconds = 0.0, evaluateSeconds = 0.0
        var duplicatesSkipped = 0, trainedHere = 0, lostClaims = 0
        var poolStatistics: PoolStatistics?
        var lastRecovery = Stopwatch()
        var lastReport = Stopwatch()

        func report(force: Bool) {
            guard let progress, force || lastReport.seconds >= 1 else { return }
            lastReport = Stopwatch()
            let done = view.observations.count
            let rate = Double(done - resumed) / max(clock.seconds, 1e-9)
            let left = settings.trials - done
            progress(AlaCarteProgress(
                trialsDone: done, trialsTarget: settings.trials, bestObjective: view.observations.map(\.objective).max(),
                trialsPerSecond: rate, etaSeconds: rate > 0 ? Double(max(left, 0)) / rate : nil,
                duplicatesSkipped: duplicatesSkipped))
        }

        /// Up to `count` claims: requeued trials first, then new points from the sampler; fewer when the study
        /// holds its budget of trials or the space is exhausted.
        func acquire(_ count: Int, streaming: Bool) throws -> [(record: TrialRecord, point: [Int])] {
            let storeStart = Stopwatch()
            defer { storeSeconds += storeStart.seconds }
            if lastRecovery.seconds >= policy.heartbeatSeconds {
                requeued += try recover(policy: policy).requeued.count
                lastRecovery = Stopwatch()
            }
            var claims: [(record: TrialRecord, point: [Int])] = []
            while claims.count < count, let retry = try store.claimPending(worker: me.id) {
                guard let point = space.point(parameters: retry.parameters) else { continue }
                claims.append((retry, point))
                view.unfinished[retry.number] = point
            }
            // Two workers may propose the same point at once: the store claims it once (`pointTaken` for the
            // other), which then proposes again knowing the point is taken.
            var taken = Set<[Int]>()
            for _ in 0..<8 {
                guard claims.count < count else { return claims }
                try sync()
                let room = settings.trials - view.observations.count - view.unfinished.count
                guard room > 0 else { return claims }
                let running = view.unfinished.keys.sorted().map { view.unfinished[$0]! }
                let samplerStart = Stopwatch()
                let points = sampler.propose(count: min(count - claims.count, room), observations: view.observations,
                                             running: running, excluded: view.seen.union(running).union(taken), space: space,
                                             generator: &generator)
                samplerSeconds += samplerStart.seconds
                guard !points.isEmpty else { return claims }  // the space is exhausted
                let group = streaming ? "stream"
                    : "round-\((view.observations.count + view.unfinished.count) / max(settings.population, 1))"
                var raced = false
                for point in points {
                    let candidate = space.candidate(point)
                    let record = TrialRecord(
                        number: 0, group: group, state: .running, parameters: space.parameters(point),
                        expressions: candidate.map(\.description), canonicalKey: evaluator.key(of: candidate),
                        seed: settings.training.seed, device: evaluator.deviceDescription, startedAt: Date())
                    do {
                        guard let claimed = try store.claimNew(record, worker: me.id, budget: settings.trials) else { return claims }
                        claims.append((claimed, point))
                        view.unfinished[claimed.number] = point
                    } catch StudyStoreError.pointTaken {
                        taken.insert(point)
                        raced = true
                    }
                }
                if !raced { return claims }
            }
            return claims
        }

        /// Commits finished claims in one store transaction; a claim this worker lost (it went stale and was
        /// requeued) is not written.
        func commit(_ done: [(record: TrialRecord, point: [Int], score: CandidateScore, trainSeconds: Double)]) throws {
            guard !done.isEmpty else { return }
            var records: [TrialRecord] = []
            for item in done {
                var record = item.record
                Self.fill(&record, with: item.score, numberOfKey: &view.numberOfKey, finishedAt: Date(), trainSeconds: item.trainSeconds)
                records.append(record)
            }
            let storeStart = Stopwatch()
            let kept = try store.finish(records, worker: me.id)
            storeSeconds += storeStart.seconds
            for (index, item) in done.enumerated() {
                guard kept[index] else {
                    lostClaims += 1
                    continue
                }
                if item.score.source == .trained { trainedHere += 1 } else { duplicatesSkipped += 1 }
                view.add(records[index], point: item.point)
            }
            report(force: view.observations.count >= settings.trials)
        }

        while true {
            if let streaming = evaluator as? any StreamingCandidateEvaluator, streaming.canStream {
                var running: [Int: (record: TrialRecord, point: [Int], started: Stopwatch)] = [:]
                // The slots about to be refilled (the pool's boundary) are claimed together: one sync with the
                // store and one proposal for all of them.
                var claimed: [(record: TrialRecord, point: [Int])] = [], wanted = 0
                // A step's results, committed together at the pool's next boundary (one transaction, one flush).
                var done: [(record: TrialRecord, point: [Int], score: CandidateScore, trainSeconds: Double)] = []
                let evaluateStart = Stopwatch()
                let (samplerBefore, storeBefore) = (samplerSeconds, storeSeconds)
                let statistics = try streaming.stream(slots: settings.population, next: {
                    if claimed.isEmpty { claimed = try acquire(max(wanted, 1), streaming: true) }
                    wanted = 0
                    guard !claimed.isEmpty else { return nil }
                    let claim = claimed.removeFirst()
                    running[claim.record.number] = (claim.record, claim.point, Stopwatch())
                    return StreamItem(tag: claim.record.number, activations: space.candidate(claim.point))
                }, finished: { item, score in
                    guard let entry = running.removeValue(forKey: item.tag) else { return }
                    // Its share of the pool while it was in: the wall time over the slots.
                    done.append((entry.record, entry.point, score, entry.started.seconds / Double(max(settings.population, 1))))
                }, boundary: {
                    try commit(done)
                    done = []
                    wanted = $0
                })
                // Items answered inside `next` (duplicates of scored trials) during the pool's last refill come after
                // its last boundary.
                try commit(done)
                poolStatistics = poolStatistics ?? statistics  // later passes only retry requeued claims
                evaluateSeconds += evaluateStart.seconds - (samplerSeconds - samplerBefore) - (storeSeconds - storeBefore)
            } else {
                while true {
                    let claims = try acquire(settings.population, streaming: false)
                    if claims.isEmpty { break }
                    let evaluateStart = Stopwatch()
                    let batch = try await evaluator.evaluate(claims.map { space.candidate($0.point) })
                    evaluateSeconds += evaluateStart.seconds
                    let perTrained = batch.trainedCount > 0 ? batch.trainSeconds / Double(batch.trainedCount) : 0
                    try commit(claims.enumerated().map { ($1.record, $1.point, batch.scores[$0], perTrained) })
                    report(force: true)
                }
            }
            // Nothing left to claim. Other workers' claims may still finish, or go stale and come back as
            // pending: wait for them, so that every worker ends with the whole study finished.
            try sync()
            if view.unfinished.isEmpty { break }
            try await Task.sleep(nanoseconds: UInt64(min(policy.heartbeatSeconds, 0.2) * 1e9))
            requeued += try recover(policy: policy).requeued.count
            lastRecovery = Stopwatch()
            report(force: false)
        }
        heartbeat.stop()
        try store.retire(worker: me.id)
        retired = true

        guard var best = try store.bestTrials(limit: 1).first, let bestPoint = space.point(parameters: best.parameters)
        else {
            throw AlaCarteError.storeMismatch("study '\(store.studyName)' finished no trial")
        }
        let test: TestScore
        if let stored = best.testAccuracy {
            // Scored in an earlier run or by another worker: the test set is read once per study.
            test = TestScore(testAccuracy: stored, validationAccuracy: best.metrics["validation_accuracy"],
                             trainAccuracy: best.metrics["train_accuracy"], diverged: best.state == .diverged,
                             epochs: best.epochs ?? 0)
        } else {
            let evaluateStart = Stopwatch()
            test = try await evaluator.scoreOnTest(space.candidate(bestPoint))
            evaluateSeconds += evaluateStart.seconds
            best.testAccuracy = test.testAccuracy
            try store.update([best])
        }
        return AlaCarteOutcome(
            study: store.studyName, bestTrialNumber: best.number, bestChoices: space.names(bestPoint),
            bestExpressions: best.expressions, bestObjective: best.objective ?? 0, test: test,
            trialsFinished: view.observations.count, trialsResumed: resumed, duplicatesSkipped: duplicatesSkipped,
            divergedCount: view.divergedCount, wallSeconds: clock.seconds, samplerSeconds: samplerSeconds,
            storeSeconds: storeSeconds, evaluateSeconds: evaluateSeconds, pool: poolStatistics,
            worker: me.id, trialsTrainedHere: trainedHere, claimsRequeued: requeued, claimsLost: lostClaims)
    }

    /// Requeues the claims of workers that stopped beating, or whose process on this machine is gone.
    private func recover(policy: ClaimPolicy) throws -> ClaimRecovery {
        let dead = Set(try store.workers().filter { $0.stoppedAt == nil && $0.identity.isDeadLocalProcess }.map(\.identity.id))
        return try store.recoverStaleClaims(policy: policy, deadWorkers: dead)
    }
}
