// The result model: one `RunRecord` per (case, server, round); `CaseSummary` holds the medians
// over rounds per (case, server) with ratios against the first server. Everything here is
// Codable and goes to --json as is.

public struct OperationRecord: Codable, Sendable {
    public var name: String
    public var ops: Int
    public var opsPerSec: Double
    public var errors: Int
    /// Operations whose first reply was empty/null (validate of a missing session, GET miss).
    public var empty: Int
    public var latencyMicros: LatencySummary
}

public struct RunRecord: Codable, Sendable {
    public var caseName: String
    public var server: String
    public var round: Int
    public var seconds: Double
    public var ops: Int
    public var opsPerSec: Double
    public var commands: Int
    public var errors: Int
    public var latencyMicros: LatencySummary
    public var operations: [OperationRecord]
    public var clientCPUSeconds: Double
    public var clientThreads: Int
    /// Client CPU / (wall x threads).
    public var clientUtilization: Double
    public var clientBound: Bool
    public var serverCPUSeconds: Double?
    public var serverCPUPerOpMicros: Double?
    public var serverCPUPerCommandMicros: Double?
    public var errorSamples: [String]

    static let clientBoundThreshold = 0.9

    init(caseName: String, server: String, round: Int, outcome: LoadOutcome) {
        self.caseName = caseName
        self.server = server
        self.round = round
        seconds = outcome.seconds
        ops = outcome.totalOps
        opsPerSec = outcome.opsPerSecond
        commands = outcome.commands
        errors = outcome.totalErrors
        latencyMicros = LatencySummary(outcome.overall)
        operations = outcome.operationNames.indices.map { i in
            OperationRecord(name: outcome.operationNames[i], ops: outcome.counts[i],
                            opsPerSec: outcome.seconds > 0 ? Double(outcome.counts[i]) / outcome.seconds : 0,
                            errors: outcome.errors[i], empty: outcome.empties[i], latencyMicros: LatencySummary(outcome.histograms[i]))
        }
        clientCPUSeconds = outcome.clientCPUSeconds
        clientThreads = outcome.threads
        clientUtilization = outcome.clientUtilization
        clientBound = outcome.clientUtilization > Self.clientBoundThreshold
        serverCPUSeconds = outcome.serverCPUSeconds
        if let cpu = outcome.serverCPUSeconds, outcome.totalOps > 0 {
            serverCPUPerOpMicros = cpu * 1e6 / Double(outcome.totalOps)
            serverCPUPerCommandMicros = outcome.commands > 0 ? cpu * 1e6 / Double(outcome.commands) : nil
        }
        errorSamples = outcome.errorSamples
    }
}

public struct OperationSummary: Codable, Sendable {
    public var name: String
    public var opsPerSec: Double
    public var errors: Int
    public var emptyFraction: Double
    public var latencyMicros: LatencySummary
}

public struct CaseSummary: Codable, Sendable {
    public var caseName: String
    public var server: String
    public var rounds: Int
    public var opsPerSec: Double
    /// This server's ops/s over the first server's.
    public var opsRatio: Double?
    public var latencyMicros: LatencySummary
    public var serverCPUPerOpMicros: Double?
    /// This server's CPU per op over the first server's (lower is better).
    public var serverCPURatio: Double?
    public var serverCPUPerCommandMicros: Double?
    public var clientUtilization: Double
    public var clientBoundRounds: Int
    public var errors: Int
    public var operations: [OperationSummary]

    /// Medians over `runs` (all of one case and one server).
    static func make(_ runs: [RunRecord]) -> CaseSummary {
        let first = runs[0]
        let operations = first.operations.indices.map { i -> OperationSummary in
            let records = runs.map { $0.operations[i] }
            return OperationSummary(
                name: records[0].name, opsPerSec: Stats.median(records.map(\.opsPerSec)),
                errors: records.map(\.errors).reduce(0, +),
                emptyFraction: Stats.median(records.map { $0.ops > 0 ? Double($0.empty) / Double($0.ops) : 0 }),
                latencyMicros: LatencySummary.median(records.map(\.latencyMicros)))
        }
        return CaseSummary(
            caseName: first.caseName, server: first.server, rounds: runs.count,
            opsPerSec: Stats.median(runs.map(\.opsPerSec)), opsRatio: nil,
            latencyMicros: LatencySummary.median(runs.map(\.latencyMicros)),
            serverCPUPerOpMicros: Stats.median(runs.map(\.serverCPUPerOpMicros)), serverCPURatio: nil,
            serverCPUPerCommandMicros: Stats.median(runs.map(\.serverCPUPerCommandMicros)),
            clientUtilization: Stats.median(runs.map(\.clientUtilization)),
            clientBoundRounds: runs.filter(\.clientBound).count,
            errors: runs.map(\.errors).reduce(0, +), operations: operations)
    }

    /// Summaries for every (case, server) in run order, with ratios against `servers[0]`.
    static func summarize(_ runs: [RunRecord], servers: [String]) -> [CaseSummary] {
        var cases: [String] = []
        for r in runs where !cases.contains(r.caseName) { cases.append(r.caseName) }
        var result: [CaseSummary] = []
        for c in cases {
            var rows: [CaseSummary] = []
            for s in servers {
                let mine = runs.filter { $0.caseName == c && $0.server == s }
                if !mine.isEmpty { rows.append(make(mine)) }
            }
            if let base = rows.first(where: { $0.server == servers.first }) {
                for i in rows.indices {
                    if base.opsPerSec > 0 { rows[i].opsRatio = rows[i].opsPerSec / base.opsPerSec }
                    if let mine = rows[i].serverCPUPerOpMicros, let theirs = base.serverCPUPerOpMicros, theirs > 0 {
                        rows[i].serverCPURatio = mine / theirs
                    }
                }
            }
            result.append(contentsOf: rows)
        }
        return result
    }
}

/// `load`: memory per session on one server.
public struct MemoryRecord: Codable, Sendable {
    public var server: String
    public var sessions: Int
    public var stateBytes: Int
    public var payloadBytesPerSession: Int
    public var usedMemoryBefore: Int?
    public var usedMemoryAfter: Int?
    public var usedMemoryPerSession: Double?
    public var usedMemoryRatio: Double?
    public var rssBefore: Int?
    public var rssAfter: Int?
    public var rssPerSession: Double?
    public var rssRatio: Double?
    public var keysAfter: Int?
    public var loadSeconds: Double
    public var sessionsPerSec: Double
    public var serverCPUPerSessionMicros: Double?
}

/// `expiry`: how long expired keys linger on one server, one round.
public struct ExpiryRecord: Codable, Sendable {
    public var server: String
    public var round: Int
    public var keys: Int
    /// Keys still counted by DBSIZE at the last deadline (all of them had expired by then).
    public var heldAtLastDeadline: Int?
    /// ms after the first deadline until DBSIZE first dropped.
    public var firstDropMillis: Double?
    /// ms after the last deadline until every expired key was gone (nil: not within the timeout).
    public var allGoneMillis: Double?
    public var remainingAtTimeout: Int?
    /// The server's longest event-loop iteration (INFO stats eventloop_duration_max, us)
    /// between arming the deadlines and the end of the run; nil when the server does not
    /// report it (Redis 7.0 does not).
    public var longestLoopMicros: Double? = nil
    public var traffic: RunRecord?
    public var notes: [String]
}

public struct ExpirySummary: Codable, Sendable {
    public var server: String
    public var rounds: Int
    public var keys: Int
    public var heldAtLastDeadline: Double?
    public var allGoneMillis: Double?
    public var allGoneRatio: Double?
    public var timedOutRounds: Int
    public var longestLoopMicros: Double? = nil
    public var trafficOpsPerSec: Double?
    public var trafficLatencyMicros: LatencySummary?
    public var trafficErrors: Int
}

public struct MachineInfo: Codable, Sendable {
    public var cpus: Int
    public var kernel: String
    public var cpuModel: String

    static func current() -> MachineInfo {
        let release = Sys.readFile("/proc/sys/kernel/osrelease").map { String(decoding: $0, as: UTF8.self) } ?? "unknown"
        return MachineInfo(cpus: Sys.onlineCPUs, kernel: Substring(release).trimmedOf(" \n"), cpuModel: ProcStats.cpuModel())
    }
}

public struct BenchReport: Codable, Sendable {
    public var tool = "sesame-bench"
    public var workload: String
    public var startedAt: String
    public var commandLine: [String]
    public var machine: MachineInfo
    public var settings: [String: String]
    public var servers: [ServerTarget]
    public var runs: [RunRecord] = []
    public var summaries: [CaseSummary] = []
    public var memory: [MemoryRecord] = []
    public var expiry: [ExpiryRecord] = []
    public var expirySummaries: [ExpirySummary] = []
    public var notes: [String] = []
    /// `--cluster`: load per node per round (Cluster/ClusterEngine.swift).
    public var clusterNodes: [ClusterNodeRecord] = []
    /// Servers skipped, with the reason.
    public var unavailable: [String: String] = [:]
}
