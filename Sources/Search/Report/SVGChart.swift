import Foundation

/// A line chart as inline SVG text: axes with ticks, one polyline per series, a legend. No scripts, no
/// external fonts or files, so the report opens anywhere without a network.
struct SVGChart {
    struct Series {
        var name: String
        var points: [(x: Double, y: Double)]
        var color: String
        var dashed = false
    }

    var title: String
    var xLabel: String
    var yLabel: String
    var series: [Series]
    var width = 440.0
    var height = 280.0
    /// Fixed y-range; nil fits the finite data (with a margin).
    var yRange: ClosedRange<Double>?
    /// x is a count (generations): ticks only at whole numbers.
    var integerX = false

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b"]

    private let left = 52.0, right = 12.0, top = 28.0, bottom = 40.0

    func render() -> String {
        let finite = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite }
        let xs = finite.map(\.x), ys = finite.map(\.y)
        let xMin = xs.min() ?? 0, xMax = Swift.max(xs.max() ?? 1, (xs.min() ?? 0) + 1e-9)
        var yMin = yRange?.lowerBound ?? (ys.min() ?? 0)
        var yMax = yRange?.upperBound ?? (ys.max() ?? 1)
        if yMax - yMin < 1e-9 { yMin -= 0.5; yMax += 0.5 }
        if yRange == nil { let pad = (yMax - yMin) * 0.05; yMin -= pad; yMax += pad }
        let plotW = width - left - right, plotH = height - top - bottom
        func px(_ x: Double) -> Double { left + (x - xMin) / (xMax - xMin) * plotW }
        func py(_ y: Double) -> Double { top + (1 - (Swift.min(Swift.max(y, yMin), yMax) - yMin) / (yMax - yMin)) * plotH }

        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(f(width))" height="\(f(height))" viewBox="0 0 \(f(width)) \(f(height))" font-family="sans-serif" font-size="11" role="img" aria-label="\(Self.escape(title))">
        <text x="\(f(width / 2))" y="16" text-anchor="middle" font-size="13" font-weight="bold">\(Self.escape(title))</text>
        <rect x="\(f(left))" y="\(f(top))" width="\(f(plotW))" height="\(f(plotH))" fill="none" stroke="#999"/>

        """
        for tick in Self.ticks(xMin, xMax, minimumStep: integerX ? 1 : 0) {
            svg += "<line x1=\"\(f(px(tick)))\" y1=\"\(f(top))\" x2=\"\(f(px(tick)))\" y2=\"\(f(top + plotH))\" stroke=\"#eee\"/>"
            svg += "<text x=\"\(f(px(tick)))\" y=\"\(f(top + plotH + 14))\" text-anchor=\"middle\">\(Self.label(tick))</text>\n"
        }
        for tick in Self.ticks(yMin, yMax) {
            svg += "<line x1=\"\(f(left))\" y1=\"\(f(py(tick)))\" x2=\"\(f(left + plotW))\" y2=\"\(f(py(tick)))\" stroke=\"#eee\"/>"
            svg += "<text x=\"\(f(left - 4))\" y=\"\(f(py(tick) + 4))\" text-anchor=\"end\">\(Self.label(tick))</text>\n"
        }
        if xMin < 0 && xMax > 0 {
            svg += "<line x1=\"\(f(px(0)))\" y1=\"\(f(top))\" x2=\"\(f(px(0)))\" y2=\"\(f(top + plotH))\" stroke=\"#bbb\"/>\n"
        }
        if yMin < 0 && yMax > 0 {
            svg += "<line x1=\"\(f(left))\" y1=\"\(f(py(0)))\" x2=\"\(f(left + plotW))\" y2=\"\(f(py(0)))\" stroke=\"#bbb\"/>\n"
        }
        svg += "<text x=\"\(f(left + plotW / 2))\" y=\"\(f(height - 6))\" text-anchor=\"middle\">\(Self.escape(xLabel))</text>\n"
        svg += "<text transform=\"translate(12 \(f(top + plotH / 2))) rotate(-90)\" text-anchor=\"middle\">\(Self.escape(yLabel))</text>\n"
        for s in series {
            // non-finite values break the line into segments
            var segments: [[(Double, Double)]] = [[]]
            for p in s.points {
                if p.x.isFinite && p.y.isFinite { segments[segments.count - 1].append((px(p.x), py(p.y))) }
                else if !segments[segments.count - 1].isEmpty { segments.append([]) }
            }
            for segment in segments where !segment.isEmpty {
                let coords = segment.map { "\(f($0.0)),\(f($0.1))" }.joined(separator: " ")
                let dash = s.dashed ? " stroke-dasharray=\"5 3\"" : ""
                if segment.count == 1 {
                    svg += "<circle cx=\"\(f(segment[0].0))\" cy=\"\(f(segment[0].1))\" r=\"2.5\" fill=\"\(s.color)\"/>\n"
                } else {
                    svg += "<polyline fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"1.8\"\(dash) points=\"\(coords)\"><title>\(Self.escape(s.name))</title></polyline>\n"
                }
            }
        }
        for (i, s) in series.enumerated() {
            let y = top + 10 + Double(i) * 14
            let dash = s.dashed ? " stroke-dasharray=\"5 3\"" : ""
            svg += "<line x1=\"\(f(left + 8))\" y1=\"\(f(y))\" x2=\"\(f(left + 26))\" y2=\"\(f(y))\" stroke=\"\(s.color)\" stroke-width=\"2\"\(dash)/>"
            svg += "<text x=\"\(f(left + 30))\" y=\"\(f(y + 4))\">\(Self.escape(s.name))</text>\n"
        }
        return svg + "</svg>"
    }

    private func f(_ v: Double) -> String { String(format: "%.1f", v) }

    /// About five round tick values covering [lo, hi].
    static func ticks(_ lo: Double, _ hi: Double, minimumStep: Double = 0) -> [Double] {
        guard hi > lo, (hi - lo).isFinite else { return [lo] }
        let raw = Swift.max((hi - lo) / 5, minimumStep)
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
        var values: [Double] = []
        var v = ceil(lo / step) * step
        while v <= hi + step * 1e-9 { values.append(abs(v) < step * 1e-9 ? 0 : v); v += step }
        return values
    }

    static func label(_ v: Double) -> String {
        if v == v.rounded() && abs(v) < 1e6 { return String(Int(v)) }
        return String(format: abs(v) < 0.01 ? "%.3g" : "%.2f", v)
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
