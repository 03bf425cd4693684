import Foundation

/// A line chart as a standalone SVG: axes with round ticks, one polyline per series, a
/// legend. Numbers are written with fixed precision, so the same data gives the same bytes.
public struct SVGChart: Sendable {
    public struct Series: Sendable {
        public var name: String
        public var points: [(x: Double, y: Double)]
        public init(name: String, points: [(x: Double, y: Double)]) {
            self.name = name
            self.points = points
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    /// Fixed y range (e.g. 0…1 for ratios); nil to fit the data.
    public var yRange: ClosedRange<Double>?
    /// Draw steps (for a CDF) rather than straight segments.
    public var steps: Bool

    public init(title: String, xLabel: String, yLabel: String, series: [Series], yRange: ClosedRange<Double>? = nil,
                steps: Bool = false) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.yRange = yRange
        self.steps = steps
    }

    static let colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]
    static let (width, height) = (640.0, 360.0)
    static let (left, right, top, bottom) = (64.0, 16.0, 56.0, 48.0)

    /// Round tick values covering `lo…hi`.
    public static func ticks(_ lo: Double, _ hi: Double, count: Int = 5) -> [Double] {
        guard hi > lo else { return [lo] }
        let raw = (hi - lo) / Double(count)
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
        var out: [Double] = []
        var t = ceil(lo / step) * step
        while t <= hi + step * 1e-9 { out.append(t); t += step }
        return out
    }

    static func label(_ v: Double) -> String {
        if v == v.rounded() && abs(v) < 1e6 { return String(Int64(v)) }
        return String(format: abs(v) < 0.01 || abs(v) >= 1e6 ? "%.3g" : "%.2f", v)
    }

    public func svg() -> String {
        let all = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite }
        let xs = all.map(\.x), ys = all.map(\.y)
        // A distribution's axis starts at zero; a flat one still gets a readable width.
        let x0 = steps ? min(0, xs.min() ?? 0) : xs.min() ?? 0
        var x1 = xs.max() ?? 1
        if x1 - x0 <= abs(x0) * 1e-9 { x1 = x0 + max(abs(x0), 1) }
        var y0 = yRange?.lowerBound ?? min(0, ys.min() ?? 0)
        var y1 = yRange?.upperBound ?? (ys.max() ?? 1)
        if y1 <= y0 { y1 = y0 + 1 }
        if yRange == nil { y1 += (y1 - y0) * 0.05; y0 = min(y0, 0) }
        let w = Self.width - Self.left - Self.right, h = Self.height - Self.top - Self.bottom
        func px(_ x: Double) -> Double { Self.left + (x - x0) / (x1 - x0) * w }
        func py(_ y: Double) -> Double { Self.top + h - (y - y0) / (y1 - y0) * h }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        var out = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(Self.width))" height="\(Int(Self.height))" \
        viewBox="0 0 \(Int(Self.width)) \(Int(Self.height))" font-family="Helvetica, Arial, sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(f(Self.width / 2))" y="20" text-anchor="middle" font-size="14" font-weight="bold">\(escape(title))</text>

        """
        var previous = ""
        for t in Self.ticks(y0, y1) where Self.label(t) != previous {
            previous = Self.label(t)
            out += "<line x1=\"\(f(Self.left))\" y1=\"\(f(py(t)))\" x2=\"\(f(Self.left + w))\" y2=\"\(f(py(t)))\" stroke=\"#e5e5e5\"/>\n"
            out += "<text x=\"\(f(Self.left - 6))\" y=\"\(f(py(t) + 4))\" text-anchor=\"end\">\(Self.label(t))</text>\n"
        }
        previous = ""
        for t in Self.ticks(x0, x1) where Self.label(t) != previous {
            previous = Self.label(t)
            out += "<line x1=\"\(f(px(t)))\" y1=\"\(f(Self.top + h))\" x2=\"\(f(px(t)))\" y2=\"\(f(Self.top + h + 4))\" stroke=\"#333\"/>\n"
            out += "<text x=\"\(f(px(t)))\" y=\"\(f(Self.top + h + 18))\" text-anchor=\"middle\">\(Self.label(t))</text>\n"
        }
        out += "<rect x=\"\(f(Self.left))\" y=\"\(f(Self.top))\" width=\"\(f(w))\" height=\"\(f(h))\" fill=\"none\" stroke=\"#333\"/>\n"
        out += "<text x=\"\(f(Self.left + w / 2))\" y=\"\(f(Self.height - 8))\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        out += "<text transform=\"translate(16 \(f(Self.top + h / 2))) rotate(-90)\" text-anchor=\"middle\">\(escape(yLabel))</text>\n"
        // The legend in a row under the title, outside the plot, so that it hides no data.
        var lx = Self.left
        for (k, s) in series.enumerated() {
            // Missing samples break the line rather than being bridged.
            var segments: [[String]] = [[]]
            for (i, p) in s.points.enumerated() {
                guard p.x.isFinite && p.y.isFinite else {
                    if !segments[segments.count - 1].isEmpty { segments.append([]) }
                    continue
                }
                if steps && i > 0 && s.points[i - 1].y.isFinite && !segments[segments.count - 1].isEmpty {
                    segments[segments.count - 1].append("\(f(px(p.x))),\(f(py(s.points[i - 1].y)))")
                }
                segments[segments.count - 1].append("\(f(px(p.x))),\(f(py(p.y)))")
            }
            let drawn = segments.filter { !$0.isEmpty }
            guard !drawn.isEmpty else { continue }
            let color = Self.colors[k % Self.colors.count]
            for seg in drawn {
                out += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.8\" points=\"\(seg.joined(separator: " "))\"/>\n"
            }
            out += "<line x1=\"\(f(lx))\" y1=\"38\" x2=\"\(f(lx + 18))\" y2=\"38\" stroke=\"\(color)\" stroke-width=\"2\"/>\n"
            out += "<text x=\"\(f(lx + 22))\" y=\"42\">\(escape(s.name))</text>\n"
            lx += 30 + Double(s.name.count) * 6.5
        }
        return out + "</svg>\n"
    }

    private func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}

extension Report {
    /// `report.html`: the summary table and the plots on one page.
    public func html(plots: [(file: String, title: String)]) -> String {
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        }
        var rows = ""
        for m in metrics {
            let hw = m.interval.halfWidth
            rows += "<tr><td><code>\(esc(m.definition.name))</code></td><td>\(esc(m.definition.unit))</td>"
                + "<td class=n>\(Report.figure(m.interval.mean))</td><td class=n>\(hw.isFinite ? Report.figure(hw) : "–")</td>"
                + "<td class=n>\(Report.figure(m.min))</td><td class=n>\(Report.figure(m.max))</td>"
                + "<td>\(m.definition.direction == .neutral ? "" : m.definition.direction.rawValue)</td></tr>\n"
        }
        func attr(_ s: String) -> String { esc(s).replacingOccurrences(of: "\"", with: "&quot;").replacingOccurrences(of: ">", with: "&gt;") }
        let figures = plots.map { "<figure><img src=\"\(attr($0.file))\" alt=\"\(attr($0.title))\"></figure>" }.joined(separator: "\n")
        var notes = ""
        if let note = run.warmupNote { notes += "<p>\(esc(note))</p>\n" }
        if let p = run.precision {
            notes += "<p>Replications were added until every headline metric's half-width was within "
                + "\(Report.figure(p.target * 100)) % of its mean: "
                + (p.met ? "met with \(run.replicationSeeds.count) replications." : "<b>not met</b> by the cap of \(p.cap) replications.")
                + "</p>\n"
        }
        return """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>\(esc(run.scenario)) — Honeycomb report</title>
        <style>body{font-family:Helvetica,Arial,sans-serif;margin:2em;max-width:1400px}
        table{border-collapse:collapse;font-size:13px}td,th{padding:3px 10px;border-bottom:1px solid #ddd}
        td.n{text-align:right;font-variant-numeric:tabular-nums}figure{display:inline-block;margin:8px}
        .plots{display:flex;flex-wrap:wrap}</style></head><body>
        <h1>Simulation report: \(esc(run.scenario))</h1>
        <p>Seed \(run.seed), \(run.replicationSeeds.count) replications of \(Report.humanSeconds(run.durationSeconds)),
        warm-up \(Report.humanSeconds(run.warmupSeconds)) discarded. Intervals are 95 % Student-t intervals across replications.</p>
        \(notes)<div class="plots">\(figures)</div>
        <table><tr><th>metric</th><th>unit</th><th>mean</th><th>± 95 %</th><th>min</th><th>max</th><th>better</th></tr>
        \(rows)</table></body></html>

        """
    }
}
