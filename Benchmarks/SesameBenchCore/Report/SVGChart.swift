import Foundation

// A self-contained SVG chart of a report: a title, the settings, one legend (a colour per
// server), then a grid of panels. Each panel is a grouped bar chart with its own title, y-axis
// label and ticks; latency panels use a log scale (1-2-5 ticks) so p50 and p99.9 are both
// readable. No scripts, no external fonts: it renders the same in browsers and rsvg-convert.

struct BarPanel {
    var title: String
    var yLabel: String
    var categories: [String]
    /// values[series][category]; nil = no bar.
    var values: [[Double?]]
    var logScale: Bool
    var format: (Double) -> String
    /// Fixed y range (shared by panels that should be compared by eye); nil: fit the data.
    var range: (lo: Double, hi: Double)? = nil
}

enum SVGChart {
    static let palette = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#9c755f"]

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func n(_ v: Double) -> String { String(format: "%.1f", v) }

    static func render(title: String, subtitle: [String], series: [String], panels: [BarPanel], columns: Int = 2) -> String {
        let width = 1000.0
        let margin = 30.0
        let gap = 30.0
        let panelHeight = 290.0
        let headerHeight = 70.0 + Double(subtitle.count) * 16 + 28
        let cols = max(1, min(columns, panels.count))
        let panelWidth = (width - 2 * margin - gap * Double(cols - 1)) / Double(cols)
        let rows = (panels.count + cols - 1) / cols
        let height = headerHeight + Double(rows) * (panelHeight + gap) + 10

        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">
        <rect width="100%" height="100%" fill="#ffffff"/>
        <text x="\(n(margin))" y="36" font-size="20" font-weight="bold" fill="#222">\(escape(title))</text>

        """
        var y = 58.0
        for line in subtitle {
            svg += "<text x=\"\(n(margin))\" y=\"\(n(y))\" font-size=\"12\" fill=\"#555\">\(escape(line))</text>\n"
            y += 16
        }
        // Legend.
        var x = margin
        y += 8
        for (i, name) in series.enumerated() {
            svg += "<rect x=\"\(n(x))\" y=\"\(n(y - 11))\" width=\"14\" height=\"14\" fill=\"\(palette[i % palette.count])\"/>"
            svg += "<text x=\"\(n(x + 20))\" y=\"\(n(y + 1))\" font-size=\"13\" fill=\"#222\">\(escape(name))</text>\n"
            x += 40 + Double(name.count) * 8
        }
        for (i, panel) in panels.enumerated() {
            let px = margin + Double(i % cols) * (panelWidth + gap)
            let py = headerHeight + Double(i / cols) * (panelHeight + gap)
            svg += renderPanel(panel, x: px, y: py, width: panelWidth, height: panelHeight)
        }
        svg += "</svg>\n"
        return svg
    }

    static func ticks(lo: Double, hi: Double, log: Bool) -> [Double] {
        if log {
            var result: [Double] = []
            var decade = lo
            for _ in 0..<30 {
                for m in [1.0, 2.0, 5.0] where decade * m >= lo * 0.999 && decade * m <= hi * 1.001 { result.append(decade * m) }
                decade *= 10
                if decade > hi * 1.001 { break }
            }
            return result
        }
        let step = hi / 5
        return (0...5).map { Double($0) * step }
    }

    /// 1, 2, 2.5, 5 x 10^k at or above `value`.
    static func niceCeiling(_ value: Double) -> Double {
        guard value > 0 else { return 1 }
        let exponent = floor(log10(value))
        let base = pow(10, exponent)
        for m in [1.0, 2.0, 2.5, 5.0, 10.0] where m * base >= value * 0.999 { return m * base }
        return 10 * base
    }

    static func renderPanel(_ panel: BarPanel, x: Double, y: Double, width: Double, height: Double) -> String {
        let left = x + 72, right = x + width - 8
        let top = y + 34, bottom = y + height - 42
        var svg = "<g>\n"
        svg += "<rect x=\"\(n(x))\" y=\"\(n(y))\" width=\"\(n(width))\" height=\"\(n(height))\" fill=\"#fafafa\" stroke=\"#ddd\"/>\n"
        svg += "<text x=\"\(n(x + width / 2))\" y=\"\(n(y + 21))\" font-size=\"14\" font-weight=\"bold\" text-anchor=\"middle\" fill=\"#222\">\(escape(panel.title))</text>\n"
        svg += "<text transform=\"translate(\(n(x + 16)) \(n((top + bottom) / 2))) rotate(-90)\" font-size=\"12\" text-anchor=\"middle\" fill=\"#444\">\(escape(panel.yLabel))</text>\n"

        let all = panel.values.flatMap { $0.compactMap { $0 } }.filter { $0.isFinite }
        guard !all.isEmpty else {
            svg += "<text x=\"\(n(x + width / 2))\" y=\"\(n(y + height / 2))\" font-size=\"13\" text-anchor=\"middle\" fill=\"#888\">no data</text>\n</g>\n"
            return svg
        }
        let positive = all.filter { $0 > 0 }
        let lo: Double, hi: Double
        if let range = panel.range {
            lo = range.lo
            hi = range.hi
        } else if panel.logScale {
            let minV = positive.min() ?? 1
            let maxV = positive.max() ?? 10
            lo = pow(10, floor(log10(minV)))
            var h = pow(10, ceil(log10(maxV)))
            if h <= lo { h = lo * 10 }
            hi = h
        } else {
            lo = 0
            hi = niceCeiling(all.max() ?? 1)
        }
        func scale(_ v: Double) -> Double {
            if panel.logScale {
                let c = max(v, lo)
                return bottom - (log10(c) - log10(lo)) / (log10(hi) - log10(lo)) * (bottom - top)
            }
            return bottom - (v - lo) / (hi - lo) * (bottom - top)
        }
        for t in ticks(lo: lo, hi: hi, log: panel.logScale) {
            let ty = scale(t)
            svg += "<line x1=\"\(n(left))\" y1=\"\(n(ty))\" x2=\"\(n(right))\" y2=\"\(n(ty))\" stroke=\"#e2e2e2\"/>"
            svg += "<text x=\"\(n(left - 5))\" y=\"\(n(ty + 4))\" font-size=\"10\" text-anchor=\"end\" fill=\"#555\">\(escape(panel.format(t)))</text>\n"
        }
        svg += "<line x1=\"\(n(left))\" y1=\"\(n(bottom))\" x2=\"\(n(right))\" y2=\"\(n(bottom))\" stroke=\"#888\"/>"
        svg += "<line x1=\"\(n(left))\" y1=\"\(n(top))\" x2=\"\(n(left))\" y2=\"\(n(bottom))\" stroke=\"#888\"/>\n"

        let groups = max(1, panel.categories.count)
        let seriesCount = max(1, panel.values.count)
        let groupWidth = (right - left) / Double(groups)
        let barWidth = min(60, groupWidth * 0.8 / Double(seriesCount))
        for (c, category) in panel.categories.enumerated() {
            let groupLeft = left + Double(c) * groupWidth + (groupWidth - barWidth * Double(seriesCount)) / 2
            for s in 0..<panel.values.count {
                guard c < panel.values[s].count, let v = panel.values[s][c], v.isFinite else { continue }
                let bx = groupLeft + Double(s) * barWidth
                let by = scale(v)
                svg += "<rect x=\"\(n(bx + 1))\" y=\"\(n(by))\" width=\"\(n(max(1, barWidth - 2)))\" height=\"\(n(max(0.5, bottom - by)))\" fill=\"\(palette[s % palette.count])\"><title>\(escape(panel.format(v)))</title></rect>"
                if barWidth >= 22 {
                    let fontSize = barWidth >= 40 ? 10 : 8
                    svg += "<text x=\"\(n(bx + barWidth / 2))\" y=\"\(n(by - 3))\" font-size=\"\(fontSize)\" text-anchor=\"middle\" fill=\"#333\">\(escape(panel.format(v)))</text>"
                }
                svg += "\n"
            }
            svg += "<text x=\"\(n(left + (Double(c) + 0.5) * groupWidth))\" y=\"\(n(bottom + 16))\" font-size=\"11\" text-anchor=\"middle\" fill=\"#333\">\(escape(category))</text>\n"
        }
        svg += "</g>\n"
        return svg
    }

    // MARK: Charts per workload

    static func compact(_ v: Double) -> String {
        if v >= 1_000_000 { return String(format: v >= 10_000_000 ? "%.0fM" : "%.1fM", v / 1_000_000) }
        if v >= 1000 { return String(format: v >= 10_000 ? "%.0fk" : "%.1fk", v / 1000) }
        if v >= 10 || v == 0 { return String(format: "%.0f", v) }
        if v >= 1 { return String(format: "%.1f", v) }
        return String(format: "%.2f", v)
    }

    public static func chart(for report: BenchReport) -> String {
        let servers = report.servers.map(\.name).filter { name in
            report.summaries.contains { $0.server == name } || report.memory.contains { $0.server == name }
                || report.expirySummaries.contains { $0.server == name }
        }
        let machine = "\(report.machine.cpus) CPUs, \(report.machine.cpuModel), Linux \(report.machine.kernel); \(report.startedAt)"
        let settings = ReportRenderer.settingsLine(report).replacingOccurrences(of: "Settings: ", with: "")
        var subtitle = [machine]
        // Wrap the settings line at ~150 characters.
        var line = ""
        for word in settings.split(separator: " ") {
            if line.count + word.count > 150 { subtitle.append(line); line = "" }
            line += (line.isEmpty ? "" : " ") + word
        }
        if !line.isEmpty { subtitle.append(line) }

        var panels: [BarPanel] = []
        let percentiles = ["p50", "p90", "p99", "p99.9"]
        func summary(_ caseName: String, _ server: String) -> CaseSummary? {
            report.summaries.first { $0.caseName == caseName && $0.server == server }
        }
        func latencyValues(_ l: LatencySummary?) -> [Double?] {
            guard let l else { return [nil, nil, nil, nil] }
            return [l.p50, l.p90, l.p99, l.p999]
        }

        switch report.workload {
        case "ops", "session":
            var cases: [String] = []
            for s in report.summaries where !cases.contains(s.caseName) { cases.append(s.caseName) }
            panels.append(BarPanel(
                title: "Throughput (median of rounds)", yLabel: "operations per second", categories: cases,
                values: servers.map { s in cases.map { summary($0, s)?.opsPerSec } }, logScale: false, format: compact))
            let cpu = servers.map { s in cases.map { summary($0, s)?.serverCPUPerOpMicros } }
            if cpu.flatMap({ $0 }).contains(where: { $0 != nil }) {
                panels.append(BarPanel(
                    title: "Server CPU time per operation (lower is better)", yLabel: "CPU microseconds per op", categories: cases,
                    values: cpu, logScale: false, format: compact))
            } else {
                panels.append(BarPanel(
                    title: "Client CPU use (share of its threads)", yLabel: "percent", categories: cases,
                    values: servers.map { s in cases.map { summary($0, s).map { $0.clientUtilization * 100 } } }, logScale: false, format: compact))
            }
            if report.workload == "session" {
                panels.append(BarPanel(
                    title: "All operations: latency percentiles", yLabel: "microseconds (log scale)", categories: percentiles,
                    values: servers.map { latencyValues(summary("session", $0)?.latencyMicros) }, logScale: true, format: compact))
                let opNames = report.summaries.first?.operations.map(\.name) ?? []
                for (i, op) in opNames.enumerated() {
                    let values = servers.map { s -> [Double?] in
                        guard let o = summary("session", s)?.operations[i], o.opsPerSec > 0 else { return [nil, nil, nil, nil] }
                        return latencyValues(o.latencyMicros)
                    }
                    guard values.contains(where: { $0.contains { $0 != nil } }) else { continue }
                    panels.append(BarPanel(
                        title: "\(op): latency percentiles", yLabel: "microseconds (log scale)", categories: percentiles,
                        values: values, logScale: true, format: compact))
                }
            } else {
                for c in cases {
                    panels.append(BarPanel(
                        title: "\(c): latency percentiles", yLabel: "microseconds (log scale)", categories: percentiles,
                        values: servers.map { latencyValues(summary(c, $0)?.latencyMicros) }, logScale: true, format: compact))
                }
            }
        case "load":
            func record(_ s: String) -> MemoryRecord? { report.memory.first { $0.server == s } }
            panels.append(BarPanel(
                title: "Memory per session (lower is better)", yLabel: "bytes per session",
                categories: ["used_memory", "RSS", "payload"],
                values: servers.map { s in [record(s)?.usedMemoryPerSession, record(s)?.rssPerSession, record(s).map { Double($0.payloadBytesPerSession) }] },
                logScale: false, format: compact))
            panels.append(BarPanel(
                title: "Preload rate (one pipelined connection)", yLabel: "sessions per second", categories: ["sessions/s"],
                values: servers.map { s in [record(s)?.sessionsPerSec] }, logScale: false, format: compact))
        case "expiry":
            func exp(_ s: String) -> ExpirySummary? { report.expirySummaries.first { $0.server == s } }
            panels.append(BarPanel(
                title: "Expired keys lingering (lower is better)", yLabel: "milliseconds after last deadline",
                categories: ["until all gone"], values: servers.map { [exp($0)?.allGoneMillis] }, logScale: false, format: compact))
            panels.append(BarPanel(
                title: "PING/GET latency during mass expiry", yLabel: "microseconds (log scale)", categories: percentiles + ["max"],
                values: servers.map { s in exp(s)?.trafficLatencyMicros.map { [$0.p50, $0.p90, $0.p99, $0.p999, $0.max] } ?? [nil, nil, nil, nil, nil] },
                logScale: true, format: compact))
        default:
            break
        }
        // Latency panels share one log range so they can be compared at a glance.
        let latency = panels.indices.filter { panels[$0].logScale }
        let latencyValues = latency.flatMap { panels[$0].values.flatMap { $0.compactMap { $0 } } }.filter { $0 > 0 && $0.isFinite }
        if let minV = latencyValues.min(), let maxV = latencyValues.max() {
            let lo = pow(10, floor(log10(minV)))
            let hi = max(lo * 10, pow(10, ceil(log10(maxV))))
            for i in latency { panels[i].range = (lo, hi) }
        }
        return render(title: "sesame-bench \(report.workload): \(servers.joined(separator: " vs "))", subtitle: subtitle,
                      series: servers, panels: panels)
    }
}
