import Foundation
import Kernels

/// `afsearch report RUN`: one self-contained HTML file (inline SVG and CSS, no scripts, nothing fetched)
/// with the run's best functions and their derivatives over [−5, 5] beside ReLU, fitness over the
/// generations per population, where each generation's time went, the five-method table when the folder
/// holds an experiment, and every function's formula.
public enum RunReport {
    public static let fileName = "report.html"

    /// Builds the report from what `afsearch evolve` / `afsearch experiment evolution` wrote in `folder`
    /// and writes it there (atomically). Returns the file's URL.
    @discardableResult
    public static func write(folder: URL) throws -> URL {
        let html = try html(folder: folder)
        let url = folder.appendingPathComponent(fileName)
        try Data(html.utf8).write(to: url, options: .atomic)
        return url
    }

    /// The report of the run in `folder`, built from its files without writing anything: an evolution run
    /// (evolution.json), an evolution experiment, an à la carte experiment (experiment.sqlite) or any study
    /// (study.sqlite, e.g. an à la carte study). Stores are opened read-only.
    public static func html(folder: URL) throws -> String {
        let evolution = FileManager.default.fileExists(atPath: folder.appendingPathComponent(EvolutionResult.fileName).path)
            ? try EvolutionResult.read(from: folder) : nil
        let experiment = try EvolutionExperimentResult.read(from: folder)
        if evolution != nil || experiment != nil {
            return render(title: folder.lastPathComponent, evolution: evolution, experiment: experiment)
        }
        let experimentStore = folder.appendingPathComponent("experiment.sqlite")
        let studyStore = folder.appendingPathComponent(StudyCatalog.databaseFileName)
        var body = "<h1>afsearch run <code>\(SVGChart.escape(folder.lastPathComponent))</code></h1>\n"
        if FileManager.default.fileExists(atPath: experimentStore.path) {
            let store = try SQLiteStudyStore(readingPath: experimentStore.path, studyName: folder.lastPathComponent)
            body += try alaCarteExperimentSections(store, folder: folder)
        } else if FileManager.default.fileExists(atPath: studyStore.path) {
            let store = try SQLiteStudyStore(readingPath: studyStore.path, studyName: folder.lastPathComponent)
            body += try studySections(store)
        } else {
            throw EvolutionError.invalidSetting(
                "'\(folder.path)' holds neither \(EvolutionResult.fileName), \(EvolutionExperimentResult.fileName), experiment.sqlite nor "
                + "\(StudyCatalog.databaseFileName): expected a run folder of afsearch evolve, alacarte or experiment")
        }
        return page(title: folder.lastPathComponent, body: body)
    }

    /// The report of an à la carte experiment whose studies live in a storage (`--storage postgresql://…`),
    /// written into its folder beside the tables.
    @discardableResult
    public static func write(folder: URL, alaCarteExperiment store: any StudyStore) throws -> URL {
        let body = "<h1>afsearch run <code>\(SVGChart.escape(folder.lastPathComponent))</code></h1>\n"
            + (try alaCarteExperimentSections(store, folder: folder))
        let url = folder.appendingPathComponent(fileName)
        try Data(page(title: folder.lastPathComponent, body: body).utf8).write(to: url, options: .atomic)
        return url
    }

    /// The report of a study read from any storage (a shared PostgreSQL study has no run folder).
    public static func html(store: any StudyStore) throws -> String {
        let body = "<h1>afsearch study <code>\(SVGChart.escape(store.studyName))</code></h1>\n" + (try studySections(store))
        return page(title: store.studyName, body: body)
    }

    public static func render(title: String, evolution: EvolutionResult?, experiment: EvolutionExperimentResult?) -> String {
        var body = "<h1>afsearch run <code>\(SVGChart.escape(title))</code></h1>\n"
        if let evolution { body += evolutionSections(evolution) }
        if let experiment { body += experimentSection(experiment) }
        return page(title: title, body: body)
    }

    static func page(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>afsearch report: \(SVGChart.escape(title))</title>
        <style>
        body { font-family: sans-serif; max-width: 1000px; margin: 2em auto; color: #222; }
        table { border-collapse: collapse; margin: 1em 0; } td, th { border: 1px solid #ccc; padding: 3px 8px; }
        th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
        code { background: #f6f6f6; padding: 1px 3px; } .charts { display: flex; flex-wrap: wrap; gap: 8px; }
        </style></head><body>
        \(body)
        <p style="color:#888">Written by afsearch \(SVGChart.escape(reportVersion)).</p>
        </body></html>

        """
    }

    static let reportVersion = "0.1.0"

    // MARK: evolution

    static func evolutionSections(_ run: EvolutionResult) -> String {
        let s = run.settings
        var html = "<h2>Run</h2>\n<table>\n"
        let rows: [(String, String)] = [
            ("method", s.method.displayName), ("dataset", run.dataset ?? "–"),
            ("representation", s.genome == .cgp ? "CGP \(s.cgpRows)×\(s.cgpColumns), levels-back \(s.cgpLevelsBack)" : "tree GP, depth ≤ \(s.treeMaxDepth), size ≤ \(s.treeMaxSize)"),
            ("algorithm", s.algorithm == .es ? "(1+λ) ES, λ = \(s.population)" : "generational GA, population \(s.population)"),
            ("generations", String(run.history.count)), ("seed", String(s.seed)),
            ("networks scored / trained / duplicates / rejected",
             "\(run.networksEvaluated) / \(run.networksTrained) / \(run.duplicatesSkipped) / \(run.rejected)"),
            ("best validation fitness", String(format: "%.4f", run.bestFitness)),
            ("final test accuracy (last epoch, retrained on Train1 ∪ Train2)", run.finalTest.map { String(format: "%.4f", $0.testAccuracy) } ?? "not run"),
            ("standard network, same protocol", run.standardTest.map { String(format: "%.4f", $0.testAccuracy) } ?? "not run"),
            ("device", run.device ?? "–"),
        ]
        for (k, v) in rows { html += "<tr><th style=\"text-align:left\">\(SVGChart.escape(k))</th><td>\(SVGChart.escape(v))</td></tr>\n" }
        html += "</table>\n"

        let expressions = run.best.expressions
        if !expressions.isEmpty {
            html += "<h2>Best functions</h2>\n<table><tr><th>slot</th><th>formula</th></tr>\n"
            for (slot, formula) in run.best.formulas.enumerated() {
                html += "<tr><td>\(EvolutionSettings.slotNames[safe: slot] ?? String(slot))</td><td><code>\(SVGChart.escape(formula))</code></td></tr>\n"
            }
            html += "</table>\n<div class=\"charts\">\n"
            html += functionChart(expressions, derivative: false) + "\n" + functionChart(expressions, derivative: true)
            html += "\n</div>\n"
        }

        if !run.history.isEmpty {
            html += "<h2>Fitness over generations</h2>\n<div class=\"charts\">\n"
            let populations = run.history[0].populations.map(\.name)
            for (p, name) in populations.enumerated() {
                let best = run.history.map { (Double($0.generation + 1), $0.populations[safe: p]?.bestFitness ?? .nan) }
                let mean = run.history.map { (Double($0.generation + 1), $0.populations[safe: p]?.meanFitness ?? .nan) }
                html += SVGChart(title: "population \(name)", xLabel: "generation", yLabel: "validation accuracy", series: [
                    .init(name: "best", points: best.map { (x: $0.0, y: $0.1) }, color: SVGChart.palette[0]),
                    .init(name: "generation mean", points: mean.map { (x: $0.0, y: $0.1) }, color: SVGChart.palette[1], dashed: true),
                ], integerX: true).render() + "\n"
            }
            if populations.isEmpty {
                html += SVGChart(title: "best network", xLabel: "generation", yLabel: "validation accuracy", series: [
                    .init(name: "best", points: run.history.map { (x: Double($0.generation + 1), y: $0.bestFitnessSoFar) }, color: SVGChart.palette[0]),
                ], integerX: true).render() + "\n"
            }
            html += "</div>\n" + timingSection(run.history)
            html += "<h2>Population bests</h2>\n<table><tr><th>population</th><th>fitness</th><th>formula(s)</th></tr>\n"
            for p in run.populationBests {
                html += "<tr><td>\(SVGChart.escape(p.name))</td><td class=\"num\">\(String(format: "%.4f", p.bestFitness))</td><td>"
                    + p.bestExpressions.map { "<code>\(SVGChart.escape($0))</code>" }.joined(separator: "<br>") + "</td></tr>\n"
            }
            html += "</table>\n"
        }
        return html
    }

    /// 201 points on [−5, 5], computed by index so that both ends are exact.
    static let grid = (0...200).map { -5 + Double($0) / 20 }

    /// f or f′ of each slot's function beside ReLU; f′ is the expression language's symbolic derivative
    /// (PyTorch's conventions at kinks), the one the trainer backpropagates through.
    static func functionChart(_ expressions: [ActivationExpr], derivative: Bool) -> String {
        let series = functionSeries(expressions, derivative: derivative)
        let finite = series.flatMap(\.points).map(\.y).filter(\.isFinite)
        let lo = Swift.max(finite.min() ?? -1, -10), hi = Swift.min(finite.max() ?? 1, 10)
        let pad = Swift.max(hi - lo, 0.1) * 0.05
        return SVGChart(title: derivative ? "derivative f′(x)" : "f(x)", xLabel: "x", yLabel: derivative ? "f′(x)" : "f(x)",
                        series: series, yRange: lo < hi ? (lo - pad)...(hi + pad) : nil).render()
    }

    /// One series per distinct slot function, then ReLU (dashed).
    static func functionSeries(_ expressions: [ActivationExpr], derivative: Bool) -> [SVGChart.Series] {
        func values(_ e: ActivationExpr) -> [(x: Double, y: Double)] {
            let f = derivative ? e.derivative() : e
            return grid.map { x in (x: x, y: f.evaluate(x)) }
        }
        var series: [SVGChart.Series] = []
        var seen: [ActivationExpr] = []
        for (slot, e) in expressions.enumerated() where !seen.contains(e) {
            seen.append(e)
            let name = expressions.count == 1 ? "evolved" : (EvolutionSettings.slotNames[safe: slot] ?? "slot \(slot)")
            series.append(.init(name: name, points: values(e), color: SVGChart.palette[slot % SVGChart.palette.count]))
        }
        series.append(.init(name: "ReLU", points: values(.unary(.relu, .x)), color: "#777", dashed: true))
        return series
    }

    /// Generations are numbered from 1, as the progress line counts them. Resumed generations keep the
    /// timings measured when they ran (stored with their trials).
    static func timingSection(_ history: [GenerationRecord]) -> String {
        guard !history.isEmpty else { return "" }
        let total = history.map(\.timing.totalSeconds).reduce(0, +)
        let compile = history.map(\.timing.compileSeconds).reduce(0, +)
        var html = "<h2>Where the time went</h2>\n"
        html += "<p>Compilation took \(String(format: "%.1f", total > 0 ? 100 * compile / total : 0))% of the generations' wall time "
            + "(\(String(format: "%.2f", compile)) s of \(String(format: "%.2f", total)) s).</p>\n"
        let parts: [(String, KeyPath<GenerationTiming, Double>)] = [
            ("propose", \.proposeSeconds), ("compile", \.compileSeconds), ("train", \.trainSeconds), ("bookkeeping", \.bookkeepingSeconds),
        ]
        html += SVGChart(title: "seconds per generation", xLabel: "generation", yLabel: "seconds", series: parts.enumerated().map { i, part in
            .init(name: part.0, points: history.map { (x: Double($0.generation + 1), y: $0.timing[keyPath: part.1]) }, color: SVGChart.palette[i])
        }, integerX: true).render() + "\n"
        html += "<table><tr><th>generation</th><th>networks</th><th>trained</th><th>duplicates</th><th>rejected</th>"
            + parts.map { "<th>\($0.0) s</th>" }.joined() + "<th>best so far</th></tr>\n"
        for g in history {
            html += "<tr><td class=\"num\">\(g.generation + 1)\(g.replayed ? " (resumed)" : "")</td><td class=\"num\">\(g.networks)</td>"
                + "<td class=\"num\">\(g.trained)</td><td class=\"num\">\(g.duplicatesSkipped)</td><td class=\"num\">\(g.rejected)</td>"
                + parts.map { "<td class=\"num\">\(String(format: "%.3f", g.timing[keyPath: $0.1]))</td>" }.joined()
                + "<td class=\"num\">\(String(format: "%.4f", g.bestFitnessSoFar))</td></tr>\n"
        }
        return html + "</table>\n"
    }

    // MARK: experiment

    static func experimentSection(_ e: EvolutionExperimentResult) -> String {
        var html = "<h2>Five-method experiment</h2>\n<table><tr><th>dataset</th>"
        html += e.methods.map { "<th>\($0.displayName)<br>mean / median</th>" }.joined() + "</tr>\n"
        for dataset in e.datasets {
            html += "<tr><td>\(SVGChart.escape(dataset))</td>"
            for method in e.methods {
                guard let s = e.summary(dataset, method) else { html += "<td>–</td>"; continue }
                let p = s.pValueVersusStandard.map { String(format: " (p = %.3g)", $0) } ?? ""
                html += "<td class=\"num\">\(EvolutionExperimentResult.percent(s.mean)) / \(EvolutionExperimentResult.percent(s.median))"
                    + "\(EvolutionExperimentResult.mark(s.pValueVersusStandard))\(p)</td>"
            }
            html += "</tr>\n"
        }
        html += "</table>\n<p>Test accuracy (%) at the last epoch of the final retraining; * p &lt; 0.05, ** p &lt; 0.001 "
            + "(permutation test of the median against Standard). \(SVGChart.escape(e.protocolNote))</p>\n"
        html += "<div class=\"charts\">\n"
        for dataset in e.datasets {
            let series = e.methods.enumerated().compactMap { index, method -> SVGChart.Series? in
                guard let s = e.summary(dataset, method), !s.testAccuracies.isEmpty else { return nil }
                return .init(name: method.displayName, points: s.testAccuracies.enumerated().map { (x: Double($0.offset + 1), y: $0.element) },
                             color: SVGChart.palette[index % SVGChart.palette.count], dashed: method == .standard)
            }
            html += SVGChart(title: "\(dataset): test accuracy per replicate", xLabel: "replicate", yLabel: "test accuracy",
                             series: series, integerX: true).render() + "\n"
        }
        html += "</div>\n"
        html += "<h3>Chosen functions</h3>\n<table><tr><th>dataset</th><th>method</th><th>replicate</th><th>input</th><th>hidden</th><th>output</th><th>test</th></tr>\n"
        for s in e.summaries {
            for (r, functions) in s.functions.enumerated() {
                html += "<tr><td>\(SVGChart.escape(s.dataset))</td><td>\(s.method.displayName)</td><td class=\"num\">\(r)</td>"
                    + functions.map { "<td><code>\(SVGChart.escape($0))</code></td>" }.joined()
                    + "<td class=\"num\">\(EvolutionExperimentResult.percent(s.testAccuracies[safe: r] ?? .nan))</td></tr>\n"
            }
        }
        return html + "</table>\n"
    }
}

extension RunReport {
    // MARK: studies (à la carte) and à la carte experiments

    static func settingsBlock(_ store: any StudyStore) throws -> String {
        guard let json = try store.settingsJSON() else { return "" }
        var text = json
        if let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)),
           let pretty = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys]) {
            text = String(decoding: pretty, as: UTF8.self)
        }
        return "<h2>Settings</h2>\n<pre>\(SVGChart.escape(text))</pre>\n"
    }

    /// A study from its store: the objective of every finished trial and the best so far, and the best trials.
    static func studySections(_ store: any StudyStore) throws -> String {
        let all = try store.trials(states: nil, group: nil)
        let finished = all.filter { $0.state.isFinished }.sorted { $0.number < $1.number }
        var html = "<h2>Study</h2>\n<table>\n"
        let rows: [(String, String)] = [
            ("kind", try store.kind() ?? "–"), ("trials finished / stored", "\(finished.count) / \(all.count)"),
            ("diverged", String(finished.filter { $0.state == .diverged }.count)),
        ]
        for (k, v) in rows { html += "<tr><th style=\"text-align:left\">\(SVGChart.escape(k))</th><td>\(SVGChart.escape(v))</td></tr>\n" }
        html += "</table>\n" + (try settingsBlock(store))
        let scored = finished.compactMap { t in t.objective.map { (x: Double(t.number + 1), y: $0) } }
        if !scored.isEmpty {
            var best = -Double.infinity
            let bestSoFar = scored.map { point -> (x: Double, y: Double) in best = Swift.max(best, point.y); return (point.x, best) }
            html += "<h2>Objective over trials</h2>\n<div class=\"charts\">\n"
            html += SVGChart(title: "objective per trial", xLabel: "trial", yLabel: "objective", series: [
                .init(name: "trial", points: scored, color: SVGChart.palette[1], dashed: true),
                .init(name: "best so far", points: bestSoFar, color: SVGChart.palette[0]),
            ], integerX: true).render() + "\n</div>\n"
        }
        let top = try store.bestTrials(limit: 10)
        if !top.isEmpty {
            html += "<h2>Best trials</h2>\n<table><tr><th>trial</th><th>objective</th><th>test</th><th>epochs</th><th>choices / expressions</th></tr>\n"
            for t in top {
                let choices = t.parameters.keys.filter { $0.hasPrefix("layer") }.sorted { Int($0.dropFirst(5)) ?? 0 < Int($1.dropFirst(5)) ?? 0 }
                    .compactMap { t.parameters[$0] }
                let described = (choices.isEmpty ? t.expressions : choices).map { "<code>\(SVGChart.escape($0))</code>" }.joined(separator: ", ")
                html += "<tr><td class=\"num\">\(t.number)</td><td class=\"num\">\(t.objective.map { String(format: "%.4f", $0) } ?? "–")</td>"
                    + "<td class=\"num\">\(t.testAccuracy.map { String(format: "%.4f", $0) } ?? "–")</td>"
                    + "<td class=\"num\">\(t.epochs.map(String.init) ?? "–")</td><td>\(described)</td></tr>\n"
            }
            html += "</table>\n"
        }
        return html + (try islandsSection(store, trials: all)) + (try workersSection(store, trials: all))
    }

    /// An island evolution's islands (generations committed, best objective) and its migrations (who took how
    /// many individuals from whom, after which generation). Empty for a study without islands.
    static func islandsSection(_ store: any StudyStore, trials: [TrialRecord]) throws -> String {
        let islands = IslandSummary.of(trials)
        guard !islands.isEmpty else { return "" }
        var html = "<h2>Islands</h2>\n<table><tr><th>island</th><th>generations</th><th>trials</th><th>best objective</th></tr>\n"
        for island in islands {
            html += "<tr><td>\(SVGChart.escape(island.island))</td><td class=\"num\">\(island.generations)</td>"
                + "<td class=\"num\">\(island.trials)</td>"
                + "<td class=\"num\">\(island.bestObjective.map { String(format: "%.4f", $0) } ?? "–")</td></tr>\n"
        }
        html += "</table>\n"
        let immigrations = try store.immigrations()
        let flows = MigrantSelection.flows(migrants: try store.migrants(), immigrations: immigrations)
        html += "<h2>Migrations</h2>\n<p>\(immigrations.count) barrier(s) passed, \(flows.reduce(0) { $0 + $1.count }) individual(s) taken in.</p>\n"
        guard !flows.isEmpty else { return html }
        html += "<table><tr><th>after generation (1-based)</th><th>from island</th><th>to island</th><th>individuals</th></tr>\n"
        for flow in flows {
            html += "<tr><td class=\"num\">\(flow.generation + 1)</td><td>\(SVGChart.escape(flow.from))</td><td>\(SVGChart.escape(flow.to))</td>"
                + "<td class=\"num\">\(flow.count)</td></tr>\n"
        }
        return html + "</table>\n"
    }

    /// The workers that worked on the study (several when it was shared), with what each finished.
    static func workersSection(_ store: any StudyStore, trials: [TrialRecord]) throws -> String {
        let workers = try store.workers()
        guard workers.count > 1 || trials.contains(where: { $0.attempts > 1 }) else { return "" }
        let formatter = ISO8601DateFormatter()
        var html = "<h2>Workers</h2>\n<table><tr><th>worker</th><th>host</th><th>pid</th><th>device</th><th>started</th>"
            + "<th>last heartbeat</th><th>stopped</th><th>trials finished</th></tr>\n"
        for (index, worker) in workers.enumerated() {
            let finished = trials.filter { $0.worker == worker.identity.id && $0.state.isFinished }.count
            let cells = [String(index), worker.identity.host, String(worker.identity.pid), worker.identity.device ?? "–",
                         formatter.string(from: worker.startedAt), formatter.string(from: worker.heartbeatAt),
                         worker.stoppedAt.map { formatter.string(from: $0) } ?? "–", String(finished)]
            html += "<tr>" + cells.map { "<td>\(SVGChart.escape($0))</td>" }.joined() + "</tr>\n"
        }
        html += "</table>\n"
        let retried = trials.filter { $0.attempts > 1 }
        if !retried.isEmpty {
            html += "<p>\(retried.count) trial(s) were claimed again after their worker stopped: "
                + retried.map { "#\($0.number) (\($0.attempts) claims, \($0.state.rawValue))" }.joined(separator: ", ") + ".</p>\n"
        }
        return html
    }

    /// An à la carte experiment: its table (table.md) and, per dataset and depth, each method's test accuracy
    /// per replicate.
    static func alaCarteExperimentSections(_ store: any StudyStore, folder: URL) throws -> String {
        var html = ""
        if let table = try? String(contentsOf: folder.appendingPathComponent("table.md"), encoding: .utf8) {
            html += "<h2>Results</h2>\n<pre>\(SVGChart.escape(table))</pre>\n"
        }
        let cells = try store.trials(states: nil, group: nil).filter { $0.testAccuracy != nil }
        let groups = Array(Set(cells.map(\.group))).sorted()
        if !groups.isEmpty {
            html += "<h2>Test accuracy per replicate</h2>\n<div class=\"charts\">\n"
            for group in groups {
                let inGroup = cells.filter { $0.group == group }
                let methods = Array(Set(inGroup.compactMap { $0.parameters["method"] })).sorted()
                let series = methods.enumerated().map { index, method -> SVGChart.Series in
                    let points = inGroup.filter { $0.parameters["method"] == method }
                        .compactMap { t -> (x: Double, y: Double)? in
                            guard let r = t.parameters["replicate"].flatMap(Double.init), let test = t.testAccuracy else { return nil }
                            return (r + 1, test)
                        }.sorted { $0.x < $1.x }
                    return .init(name: method, points: points, color: SVGChart.palette[index % SVGChart.palette.count])
                }
                html += SVGChart(title: group, xLabel: "replicate", yLabel: "test accuracy", series: series, integerX: true).render() + "\n"
            }
            html += "</div>\n"
        }
        if let usage = try? String(contentsOf: folder.appendingPathComponent("functions.md"), encoding: .utf8) {
            html += "<h2>Functions the chosen networks use</h2>\n<pre>\(SVGChart.escape(usage))</pre>\n"
        }
        return html + (try settingsBlock(store))
    }
}

extension Array {
    fileprivate subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
