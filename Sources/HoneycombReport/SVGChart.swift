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
    static let (left, right, top, bottom) = (64.0, 16.0, 36.0, 48.0)

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
        if v == v.rounded() && abs(v) < 1e7 { return String(Int64(v)) }
        return String(format: abs(v) < 0.01 ? "%.3g" : "%.2f", v)
    }

    public func svg() -> String {
        let all = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite }
        let xs = all.map(\.x), ys = all.map(\.y)
        let x0 = xs.min() ?? 0, x1 = max(xs.max() ?? 1, x0 + 1e-9)
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
        for t in Self.ticks(y0, y1) {
            out += "<line x1=\"\(f(Self.left))\" y1=\"\(f(py(t)))\" x2=\"\(f(Self.left + w))\" y2=\"\(f(py(t)))\" stroke=\"#e5e5e5\"/>\n"
            out += "<text x=\"\(f(Self.left - 6))\" y=\"\(f(py(t) + 4))\" text-anchor=\"end\">\(Self.label(t))</text>\n"
        }
        for t in Self.ticks(x0, x1) {
            out += "<line x1=\"\(f(px(t)))\" y1=\"\(f(Self.top + h))\" x2=\"\(f(px(t)))\" y2=\"\(f(Self.top + h + 4))\" stroke=\"#333\"/>\n"
            out += "<text x=\"\(f(px(t)))\" y=\"\(f(Self.top + h + 18))\" text-anchor=\"middle\">\(Self.label(t))</text>\n"
        }
        out += "<rect x=\"\(f(Self.left))\" y=\"\(f(Self.top))\" width=\"\(f(w))\" height=\"\(f(h))\" fill=\"none\" stroke=\"#333\"/>\n"
        out += "<text x=\"\(f(Self.left + w / 2))\" y=\"\(f(Self.height - 8))\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        out += "<text transform=\"translate(16 \(f(Self.top + h / 2))) rotate(-90)\" text-anchor=\"middle\">\(escape(yLabel))</text>\n"
        var legend = ""
        for (k, s) in series.enumerated() {
            let pts = s.points.filter { $0.x.isFinite && $0.y.isFinite }
            guard !pts.isEmpty else { continue }
            var coords: [String] = []
            for (i, p) in pts.enumerated() {
                if steps && i > 0 { coords.append("\(f(px(p.x))),\(f(py(pts[i - 1].y)))") }
                coords.append("\(f(px(p.x))),\(f(py(p.y)))")
            }
            let color = Self.colors[k % Self.colors.count]
            out += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.8\" points=\"\(coords.joined(separator: " "))\"/>\n"
            let ly = Self.top + 16 + Double(k) * 16
            legend += "<line x1=\"\(f(Self.left + w - 150))\" y1=\"\(f(ly - 4))\" x2=\"\(f(Self.left + w - 130))\" y2=\"\(f(ly - 4))\" stroke=\"\(color)\" stroke-width=\"2\"/>\n"
            legend += "<text x=\"\(f(Self.left + w - 124))\" y=\"\(f(ly))\">\(escape(s.name))</text>\n"
        }
        // The legend on a white box, drawn last so that no line crosses it.
        if !legend.isEmpty {
            out += "<rect x=\"\(f(Self.left + w - 156))\" y=\"\(f(Self.top + 4))\" width=\"150\" "
                + "height=\"\(f(Double(series.count) * 16 + 6))\" fill=\"white\" fill-opacity=\"0.9\" stroke=\"#ccc\"/>\n"
            out += legend
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
        let figures = plots.map { "<figure><img src=\"\($0.file)\" alt=\"\(esc($0.title))\"></figure>" }.joined(separator: "\n")
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
        <div class="plots">\(figures)</div>
        <table><tr><th>metric</th><th>unit</th><th>mean</th><th>± 95 %</th><th>min</th><th>max</th><th>better</th></tr>
        \(rows)</table></body></html>

        """
    }
}
