import Foundation

// Renders a BenchReport as Markdown tables (default) or aligned plain text, and as JSON.
// Ratios are always "this server / the first server"; for ops/s higher is better, for CPU per
// operation and memory lower is better.

public enum Format {
    /// 123456.7 -> "123,457".
    public static func count(_ value: Double) -> String {
        guard value.isFinite else { return "n/a" }
        let rounded = Int(value.rounded())
        let digits = String(abs(rounded))
        var out = ""
        for (i, ch) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return rounded < 0 ? "-" + out : out
    }

    /// Microseconds with precision that suits the magnitude.
    public static func micros(_ value: Double) -> String {
        guard value.isFinite else { return "n/a" }
        if value < 10 { return String(format: "%.2f", value) }
        if value < 100 { return String(format: "%.1f", value) }
        return count(value)
    }

    public static func ratio(_ value: Double?) -> String {
        guard let value, value.isFinite else { return "" }
        return String(format: "%.2fx", value)
    }

    public static func percent(_ value: Double) -> String {
        String(format: "%.0f%%", value * 100)
    }

    public static func bytes(_ value: Double?) -> String {
        guard let value else { return "n/a" }
        return count(value)
    }
}

public struct TextTable {
    public var headers: [String]
    public var rows: [[String]]
    /// Columns aligned right (numbers).
    public var rightAligned: Set<Int>

    public init(headers: [String], rows: [[String]] = [], rightAligned: Set<Int> = []) {
        self.headers = headers
        self.rows = rows
        self.rightAligned = rightAligned
    }

    public func render(_ format: OutputFormat) -> String {
        switch format {
        case .markdown:
            var out = "| " + headers.joined(separator: " | ") + " |\n"
            out += "|" + headers.indices.map { rightAligned.contains($0) ? "---:|" : "---|" }.joined() + "\n"
            for row in rows { out += "| " + row.joined(separator: " | ") + " |\n" }
            return out
        case .plain:
            var widths = headers.map(\.count)
            for row in rows { for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.count) } }
            func line(_ cells: [String]) -> String {
                cells.enumerated().map { i, cell in
                    let pad = String(repeating: " ", count: max(0, widths[i] - cell.count))
                    return rightAligned.contains(i) ? pad + cell : cell + pad
                }.joined(separator: "  ").trimmingTrailingSpaces() + "\n"
            }
            var out = line(headers)
            out += widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ") + "\n"
            for row in rows { out += line(row) }
            return out
        }
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}

public enum ReportRenderer {
    public static func render(_ report: BenchReport, format: OutputFormat) -> String {
        let heading = format == .markdown ? "## " : ""
        let subheading = format == .markdown ? "### " : ""
        let names = report.servers.map(\.name)
        let base = names.first ?? "first"
        var out = ""
        let roundsText = report.settings["rounds"].map { " (\($0) round(s), medians)" } ?? ""
        out += "\(heading)sesame-bench \(report.workload): \(names.joined(separator: " vs "))\(roundsText)\n\n"
        out += settingsLine(report) + "\n\n"

        let measured = !report.summaries.isEmpty || !report.memory.isEmpty || !report.expirySummaries.isEmpty
            || report.workload == "migrate"
        switch report.workload {
        case _ where !measured:
            out += "Nothing was measured.\n"
        case "ops", "session":
            out += summaryTable(report, base: base).render(format)
            if report.workload == "session" {
                out += "\n\(subheading)Per operation type\n\n"
                out += operationTable(report).render(format)
            }
        case "load":
            out += memoryTable(report, base: base).render(format)
        case "migrate":
            break
        case "expiry":
            out += expiryTable(report, base: base).render(format)
        default:
            break
        }
        if !report.clusterNodes.isEmpty {
            out += "\n\(subheading)Per cluster node\n\n"
            out += BenchRunner.clusterNodeTable(report).render(format)
        }
        var notes = report.notes
        for (server, reason) in report.unavailable.sorted(by: { $0.key < $1.key }) { notes.append("\(server) not measured: \(reason)") }
        for record in report.expiry { for note in record.notes { notes.append("\(record.server) round \(record.round): \(note)") } }
        if !notes.isEmpty {
            out += "\n"
            for note in notes { out += (format == .markdown ? "- " : "* ") + note + "\n" }
        }
        return out
    }

    static func settingsLine(_ report: BenchReport) -> String {
        let order = ["connections", "threads", "pipeline", "duration", "requests", "warmup", "rate", "ops", "keys", "valueSize", "fields",
                     "sessions", "users", "zipf", "stateBytes", "ttl", "mix", "sessionsNative", "plainValidate", "flush", "expireIn", "expiryTimeout", "seed"]
        let parts = order.compactMap { key in report.settings[key].map { "\(key) \($0)" } }
        let units = report.workload == "load" ? "Bytes per session" : "Latencies in microseconds"
        return "Settings: " + parts.joined(separator: ", ") + ". \(units); ratios are against \(report.servers.first?.name ?? "the first server")."
    }

    static func summaryTable(_ report: BenchReport, base: String) -> TextTable {
        var table = TextTable(
            headers: ["test", "server", "ops/s", "vs \(base)", "p50", "p90", "p99", "p99.9", "max", "server CPU us/op", "vs \(base)", "client CPU", "errors"],
            rightAligned: Set(2...12))
        for s in report.summaries where s.caseName != "expiry traffic" {
            var client = Format.percent(s.clientUtilization)
            if s.clientBoundRounds * 2 > s.rounds { client += " client-bound" }
            table.rows.append([
                s.caseName, s.server, Format.count(s.opsPerSec), Format.ratio(s.opsRatio),
                Format.micros(s.latencyMicros.p50), Format.micros(s.latencyMicros.p90), Format.micros(s.latencyMicros.p99),
                Format.micros(s.latencyMicros.p999), Format.micros(s.latencyMicros.max),
                s.serverCPUPerOpMicros.map(Format.micros) ?? "n/a", Format.ratio(s.serverCPURatio), client, String(s.errors),
            ])
        }
        return table
    }

    static func operationTable(_ report: BenchReport) -> TextTable {
        var table = TextTable(headers: ["operation", "server", "ops/s", "p50", "p90", "p99", "p99.9", "max", "empty", "errors"],
                              rightAligned: Set(2...9))
        let opNames = report.summaries.first?.operations.map(\.name) ?? []
        for (i, name) in opNames.enumerated() {
            for s in report.summaries where s.operations.count > i && s.operations[i].opsPerSec > 0 {
                let o = s.operations[i]
                table.rows.append([
                    name, s.server, Format.count(o.opsPerSec), Format.micros(o.latencyMicros.p50), Format.micros(o.latencyMicros.p90),
                    Format.micros(o.latencyMicros.p99), Format.micros(o.latencyMicros.p999), Format.micros(o.latencyMicros.max),
                    String(format: "%.1f%%", o.emptyFraction * 100), String(o.errors),
                ])
            }
        }
        return table
    }

    static func memoryTable(_ report: BenchReport, base: String) -> TextTable {
        var table = TextTable(
            headers: ["server", "sessions", "payload B/session", "used_memory B/session", "vs \(base)", "RSS B/session", "vs \(base)",
                      "keys after", "load sessions/s", "server CPU us/session"],
            rightAligned: Set(1...9))
        for m in report.memory {
            table.rows.append([
                m.server, Format.count(Double(m.sessions)), String(m.payloadBytesPerSession), Format.bytes(m.usedMemoryPerSession),
                Format.ratio(m.usedMemoryRatio), Format.bytes(m.rssPerSession), Format.ratio(m.rssRatio),
                m.keysAfter.map { Format.count(Double($0)) } ?? "n/a", Format.count(m.sessionsPerSec),
                m.serverCPUPerSessionMicros.map(Format.micros) ?? "n/a",
            ])
        }
        return table
    }

    static func expiryTable(_ report: BenchReport, base: String) -> TextTable {
        var table = TextTable(
            headers: ["server", "keys", "held at last deadline", "all gone after (ms)", "vs \(base)", "timed out",
                      "longest loop iteration (us)", "traffic ops/s", "p50", "p99", "p99.9", "max", "errors"],
            rightAligned: Set(1...12))
        for s in report.expirySummaries {
            let l = s.trafficLatencyMicros
            table.rows.append([
                s.server, Format.count(Double(s.keys)), s.heldAtLastDeadline.map(Format.count) ?? "n/a",
                s.allGoneMillis.map(Format.count) ?? "> timeout", Format.ratio(s.allGoneRatio), "\(s.timedOutRounds)/\(s.rounds)",
                s.longestLoopMicros.map(Format.count) ?? "n/a", s.trafficOpsPerSec.map(Format.count) ?? "n/a", l.map { Format.micros($0.p50) } ?? "n/a",
                l.map { Format.micros($0.p99) } ?? "n/a", l.map { Format.micros($0.p999) } ?? "n/a",
                l.map { Format.micros($0.max) } ?? "n/a", String(s.trafficErrors),
            ])
        }
        return table
    }

    public static func json(_ report: BenchReport) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try encoder.encode(report)
    }
}
