import Foundation

// Runs one workload against every server, interleaved in rounds (round 1: A, B; round 2: A, B;
// ...) so drift in the machine's state hits all servers alike, and collects a `BenchReport`.
// A server that cannot be reached (or lacks what the workload needs) is reported and skipped;
// the others still run.

public enum BenchRunner {
    public static func run(_ options: BenchOptions, commandLine: [String] = [], console: Console = .silent) throws -> BenchReport {
        let formatter = ISO8601DateFormatter()
        var report = BenchReport(
            workload: options.workload.rawValue, startedAt: formatter.string(from: Date()), commandLine: commandLine,
            machine: MachineInfo.current(), settings: settingsDescription(options), servers: options.servers)
        let seed = options.seed ?? SecureRandom.uint64() >> 1
        report.settings["seed"] = String(seed)
        switch options.workload {
        case .ops: try runOps(options, seed: seed, console: console, report: &report)
        case .session where options.cluster: try runClusterSession(options, seed: seed, console: console, report: &report)
        case .session: try runSession(options, seed: seed, console: console, report: &report)
        case .migrate: try runMigrate(options, console: console, report: &report)
        case .load: try runLoad(options, seed: seed, console: console, report: &report)
        case .expiry: try runExpiry(options, seed: seed, console: console, report: &report)
        }
        console.clearProgress()
        report.summaries = CaseSummary.summarize(report.runs, servers: options.cluster ? [clusterName] : options.servers.map(\.name))
        for s in report.summaries where s.clientBoundRounds > 0 {
            report.notes.append("\(s.caseName) on \(s.server): client-bound in \(s.clientBoundRounds) of \(s.rounds) rounds (client CPU > 90% of its \(options.threads) thread(s)); throughput there measures the client, compare server CPU per op instead.")
        }
        for s in report.summaries where s.errors > 0 {
            report.notes.append("\(s.caseName) on \(s.server): \(s.errors) operations got error replies or failed.")
        }
        return report
    }

    static func settingsDescription(_ o: BenchOptions) -> [String: String] {
        var s: [String: String] = [:]
        if o.workload != .load {
            s = ["rounds": String(o.rounds), "connections": String(o.connections), "threads": String(o.threads),
                 "pipeline": String(o.pipeline)]
            if o.workload != .expiry {
                if let d = o.effectiveDuration { s["duration"] = String(d); s["warmup"] = String(o.warmup) }
                if let r = o.requests { s["requests"] = String(r) }
            }
            if let r = o.rate { s["rate"] = String(r) }
        }
        if o.cluster { s["cluster"] = "true" }
        switch o.workload {
        case .migrate:
            s = [:]
        case .ops:
            s["ops"] = o.families.map(\.rawValue).joined(separator: ",")
            s["keys"] = String(o.keys ?? 100_000); s["valueSize"] = String(o.valueSize); s["fields"] = String(o.fields)
        case .session, .load:
            s["sessions"] = String(o.session.sessions); s["users"] = String(o.session.userCount)
            s["stateBytes"] = String(o.session.stateBytes); s["ttl"] = String(o.session.idleTTL)
            if o.workload == .session {
                s["zipf"] = String(o.session.zipf)
                s["mix"] = zip(SessionOperation.allCases, o.session.mix).map { "\($0.name)=\($1)" }.joined(separator: ",")
                if o.session.native { s["sessionsNative"] = "true" }
                if !o.session.native && o.session.plainValidate != .pipelined { s["plainValidate"] = o.session.plainValidate.rawValue }
            }
            if o.flush { s["flush"] = "true" }
        case .expiry:
            s["keys"] = String(o.keys ?? 1_000_000); s["expireIn"] = String(o.expireIn); s["expiryTimeout"] = String(o.expiryTimeout)
        }
        return s
    }

    static func plan(_ options: BenchOptions, _ server: ServerTarget, seed: UInt64) -> LoadPlan {
        var p = LoadPlan(host: server.host, port: server.port)
        p.connections = options.connections
        p.threads = options.threads
        p.pipeline = options.pipeline
        p.duration = options.effectiveDuration
        p.requests = options.requests
        p.warmup = options.warmup
        p.rate = options.rate
        p.seed = seed
        p.serverPID = server.pid
        return p
    }

    static func progressCallback(_ console: Console, label: String) -> ProgressCallback? {
        guard console.showProgress else { return nil }
        var lastOps = 0
        var lastElapsed = 0.0
        return { elapsed, total, ops in
            let rate = elapsed > lastElapsed ? Double(ops - lastOps) / (elapsed - lastElapsed) : 0
            lastOps = ops
            lastElapsed = elapsed
            let time = total.map { String(format: "%.1f/%.0fs", elapsed, $0) } ?? String(format: "%.1fs", elapsed)
            console.progress("\(label)  \(time)  \(ops) ops  \(Format.count(rate)) ops/s")
        }
    }

    static func execute<W: Workload>(_ workload: W, caseName: String, server: ServerTarget, round: Int, options: BenchOptions,
                                     seed: UInt64, console: Console, report: inout BenchReport, stop: StopFlag? = nil,
                                     planOverride: ((inout LoadPlan) -> Void)? = nil) -> RunRecord? {
        var p = plan(options, server, seed: seed)
        planOverride?(&p)
        let label = "[\(caseName)] \(server.name) round \(round)/\(options.rounds)"
        do {
            let outcome = try LoadEngine.run(workload, plan: p, stop: stop, progress: progressCallback(console, label: label))
            let record = RunRecord(caseName: caseName, server: server.name, round: round, outcome: outcome)
            console.clearProgress()
            var line = "\(label): \(Format.count(record.opsPerSec)) ops/s, p99 \(Format.micros(record.latencyMicros.p99)) us"
            if let cpu = record.serverCPUPerOpMicros { line += ", server CPU \(Format.micros(cpu)) us/op" }
            line += ", client CPU \(Format.percent(record.clientUtilization))"
            if record.errors > 0 { line += ", \(record.errors) errors (\(record.errorSamples.first ?? ""))" }
            console.info(line)
            return record
        } catch {
            console.warn("\(label): \(error)")
            report.unavailable[server.name] = "\(error)"
            return nil
        }
    }

    // MARK: ops

    static func runOps(_ options: BenchOptions, seed: UInt64, console: Console, report: inout BenchReport) throws {
        let keys = options.keys ?? 100_000
        var servers = options.servers
        for family in options.families {
            let workload = OpsWorkload(family: family, keys: keys, valueSize: options.valueSize, fields: options.fields)
            for server in servers {
                do {
                    let client = try RESPClient(host: server.host, port: server.port)
                    if let what = try workload.prefill(client) { console.info("[\(family.rawValue)] \(server.name): prefilled \(what)") }
                } catch {
                    console.warn("\(server.name): \(error); skipping this server")
                    report.unavailable[server.name] = "\(error)"
                }
            }
            servers.removeAll { report.unavailable[$0.name] != nil }
            for round in 1...options.rounds {
                for server in servers {
                    if let r = execute(workload, caseName: family.rawValue, server: server, round: round, options: options,
                                       seed: seed &+ UInt64(round), console: console, report: &report) {
                        report.runs.append(r)
                    }
                }
            }
        }
    }

    // MARK: session

    static func runSession(_ options: BenchOptions, seed: UInt64, console: Console, report: inout BenchReport) throws {
        var settings = options.session
        var tables: [String: SessionTable] = [:]
        for server in options.servers {
            do {
                let client = try RESPClient(host: server.host, port: server.port, timeoutMillis: 30_000)
                if options.flush { try flush(client, server) }
                if settings.native, let reason = try SessionWorkload.nativeUnavailableReason(client, ttl: settings.idleTTL) {
                    console.warn("SESSION.* commands not available on \(server.name) (\(reason))")
                    report.unavailable[server.name] = "SESSION.* commands not available on \(server.name)"
                    continue
                }
                let table = SessionTable(users: settings.userCount, slotsPerUser: settings.slotsPerUser)
                if options.preload {
                    let seconds = try SessionWorkload.preload(client, settings: settings, table: table, seed: seed) { done in
                        if done % 10_000 == 0 { console.progress("[session] \(server.name): preloading \(done)/\(settings.sessions)") }
                    }
                    console.clearProgress()
                    console.info("[session] \(server.name): preloaded \(settings.sessions) sessions for \(settings.userCount) users in \(String(format: "%.1f", seconds)) s")
                }
                tables[server.name] = table
            } catch {
                console.clearProgress()
                console.warn("\(server.name): \(error); skipping this server")
                report.unavailable[server.name] = "\(error)"
            }
        }
        settings.sessions = options.session.sessions
        for round in 1...options.rounds {
            for server in options.servers {
                guard let table = tables[server.name], report.unavailable[server.name] == nil else { continue }
                let workload = SessionWorkload(settings: settings, table: table)
                if let r = execute(workload, caseName: "session", server: server, round: round, options: options,
                                   seed: seed &+ UInt64(round), console: console, report: &report) {
                    report.runs.append(r)
                }
            }
        }
        if tables.isEmpty && settings.native {
            report.notes.append("No server answered SESSION.VALIDATE: nothing was measured with --sessions-native.")
        }
    }

    static func flush(_ client: RESPClient, _ server: ServerTarget) throws {
        let reply = try client.command("FLUSHALL")
        if reply.isError { throw BenchError("FLUSHALL on \(server.name) failed: \(reply.string ?? "")") }
    }

    // MARK: load (memory)

    static func runLoad(_ options: BenchOptions, seed: UInt64, console: Console, report: inout BenchReport) throws {
        let settings = options.session
        for server in options.servers {
            do {
                let client = try RESPClient(host: server.host, port: server.port, timeoutMillis: 60_000)
                if options.flush {
                    try flush(client, server)
                    console.info("[load] \(server.name): FLUSHALL done")
                }
                let usedBefore = try? client.info("memory")["used_memory"].flatMap { Int($0) }
                let rssBefore = server.pid.flatMap { ProcStats.residentBytes(pid: $0) }
                let cpuBefore = server.pid.flatMap { ProcStats.cpuSeconds(pid: $0) }
                let table = SessionTable(users: settings.userCount, slotsPerUser: settings.slotsPerUser)
                let seconds = try SessionWorkload.preload(client, settings: settings, table: table, seed: seed) { done in
                    if done % 10_000 == 0 { console.progress("[load] \(server.name): \(done)/\(settings.sessions) sessions") }
                }
                console.clearProgress()
                let cpuAfter = server.pid.flatMap { ProcStats.cpuSeconds(pid: $0) }
                let usedAfter = try? client.info("memory")["used_memory"].flatMap { Int($0) }
                let rssAfter = server.pid.flatMap { ProcStats.residentBytes(pid: $0) }
                let keys = try? client.dbsize()
                let n = Double(settings.sessions)
                var record = MemoryRecord(
                    server: server.name, sessions: settings.sessions, stateBytes: settings.stateBytes,
                    payloadBytesPerSession: SessionModel.payloadBytes(stateBytes: settings.stateBytes),
                    usedMemoryBefore: usedBefore ?? nil, usedMemoryAfter: usedAfter ?? nil, usedMemoryPerSession: nil, usedMemoryRatio: nil,
                    rssBefore: rssBefore, rssAfter: rssAfter, rssPerSession: nil, rssRatio: nil, keysAfter: keys,
                    loadSeconds: seconds, sessionsPerSec: seconds > 0 ? n / seconds : 0, serverCPUPerSessionMicros: nil)
                if let b = record.usedMemoryBefore, let a = record.usedMemoryAfter { record.usedMemoryPerSession = Double(a - b) / n }
                if let b = rssBefore, let a = rssAfter { record.rssPerSession = Double(a - b) / n }
                if let b = cpuBefore, let a = cpuAfter { record.serverCPUPerSessionMicros = (a - b) * 1e6 / n }
                console.info("[load] \(server.name): \(settings.sessions) sessions in \(String(format: "%.1f", seconds)) s; used_memory/session \(record.usedMemoryPerSession.map { Format.count($0) } ?? "n/a") B, RSS/session \(record.rssPerSession.map { Format.count($0) } ?? "n/a (no --server-pid)") B")
                report.memory.append(record)
            } catch {
                console.clearProgress()
                console.warn("\(server.name): \(error); skipping this server")
                report.unavailable[server.name] = "\(error)"
            }
        }
        if let base = report.memory.first(where: { $0.server == options.servers.first?.name }) {
            for i in report.memory.indices {
                if let mine = report.memory[i].usedMemoryPerSession, let theirs = base.usedMemoryPerSession, theirs > 0 {
                    report.memory[i].usedMemoryRatio = mine / theirs
                }
                if let mine = report.memory[i].rssPerSession, let theirs = base.rssPerSession, theirs > 0 {
                    report.memory[i].rssRatio = mine / theirs
                }
            }
        }
        if !options.flush {
            report.notes.append("Servers were not flushed first (--flush): memory deltas are still per loaded session, but earlier data stays resident.")
        }
    }

    // MARK: expiry

    static func runExpiry(_ options: BenchOptions, seed: UInt64, console: Console, report: inout BenchReport) throws {
        let keys = options.keys ?? 1_000_000
        for round in 1...options.rounds {
            for server in options.servers where report.unavailable[server.name] == nil {
                do {
                    let record = try ExpiryProbe.run(server: server, keys: keys, round: round, options: options,
                                                     seed: seed &+ UInt64(round), console: console, report: &report)
                    report.expiry.append(record)
                } catch {
                    console.clearProgress()
                    console.warn("\(server.name): \(error); skipping this server")
                    report.unavailable[server.name] = "\(error)"
                }
            }
        }
        var summaries: [ExpirySummary] = []
        for server in options.servers {
            let mine = report.expiry.filter { $0.server == server.name }
            guard !mine.isEmpty else { continue }
            let traffic = mine.compactMap(\.traffic)
            summaries.append(ExpirySummary(
                server: server.name, rounds: mine.count, keys: keys,
                heldAtLastDeadline: Stats.median(mine.map { $0.heldAtLastDeadline.map(Double.init) }),
                allGoneMillis: Stats.median(mine.map(\.allGoneMillis)), allGoneRatio: nil,
                timedOutRounds: mine.filter { $0.allGoneMillis == nil }.count,
                longestLoopMicros: Stats.median(mine.map(\.longestLoopMicros)),
                trafficOpsPerSec: traffic.isEmpty ? nil : Stats.median(traffic.map(\.opsPerSec)),
                trafficLatencyMicros: traffic.isEmpty ? nil : LatencySummary.median(traffic.map(\.latencyMicros)),
                trafficErrors: traffic.map(\.errors).reduce(0, +)))
        }
        if let base = summaries.first, let baseGone = base.allGoneMillis, baseGone > 0 {
            for i in summaries.indices { summaries[i].allGoneRatio = summaries[i].allGoneMillis.map { $0 / baseGone } }
        }
        report.expirySummaries = summaries
    }
}

/// `expiry`: loads keys whose deadlines fall in one second, then watches DBSIZE fall while
/// PING/GET traffic runs in an open loop.
enum ExpiryProbe {
    struct Sample: Sendable { var wallMillis: Int64; var keys: Int }

    static func run(server: ServerTarget, keys: Int, round: Int, options: BenchOptions, seed: UInt64,
                    console: Console, report: inout BenchReport) throws -> ExpiryRecord {
        let client = try RESPClient(host: server.host, port: server.port, timeoutMillis: 60_000)
        if options.flush && round == 1 { try BenchRunner.flush(client, server) }
        let baseline = try client.dbsize()
        var rng = Xoshiro256(seed: seed ^ 0xE1)
        let nonce = String(rng.next() % 1_000_000_000, radix: 36)
        let prefix = "exp:\(nonce):"
        let prefixBytes = Array(prefix.utf8)
        let value = Array("expiring-value-16".utf8)
        var notes: [String] = []

        // Pass 1: the keys, without TTL (so loading time cannot eat into the deadline).
        let t0 = monotonicNanos()
        var r = try prefixBytes.withUnsafeBytes { p in
            try client.pipelined(keys, batch: 1000) { i, b in
                b.begin(3); b.arg("SET"); b.argPrefixed(p, i); b.arg(value); return 1
            }
        }
        if r.errors > 0 { throw BenchError("SET failed: \(r.firstError ?? "")") }
        let loadSeconds = Double(monotonicNanos() - t0) / 1e9

        // Pass 2: PEXPIREAT, deadlines spread over one whole second a few seconds ahead.
        let now = wallClockMillis()
        let lead = Int64((loadSeconds * 1.5 + options.expireIn) * 1000)
        let firstDeadline = ((now + lead) / 1000 + 1) * 1000
        let lastDeadline = firstDeadline + 999
        r = try prefixBytes.withUnsafeBytes { p in
            try client.pipelined(keys, batch: 1000) { i, b in
                b.begin(3); b.arg("PEXPIREAT"); b.argPrefixed(p, i); b.arg(Int(firstDeadline) + (i &* 7919) % 1000); return 1
            }
        }
        if r.errors > 0 { throw BenchError("PEXPIREAT failed: \(r.firstError ?? "")") }
        // The loading above runs long loop iterations of its own (1,000-command pipelines);
        // reset the server's statistics so its longest-iteration figure covers the expiry only.
        _ = try? client.command("CONFIG", "RESETSTAT")
        let armed = wallClockMillis()
        if armed >= firstDeadline {
            notes.append("loading ended \(armed - firstDeadline) ms after the first deadline; use a larger --expire-in")
        }
        console.info("[expiry] \(server.name) round \(round): \(keys) keys loaded in \(String(format: "%.1f", loadSeconds)) s, deadlines in \(String(format: "%.1f", Double(firstDeadline - armed) / 1000))..\(String(format: "%.1f", Double(lastDeadline - armed) / 1000)) s")

        // Watch DBSIZE on its own connection and thread; stop the traffic when done.
        let stop = StopFlag()
        let box = ResultBox<[Sample]>()
        let timeoutMillis = Int64(options.expiryTimeout * 1000)
        let host = server.host, port = server.port
        let watcher = try WorkerThread {
            var samples: [Sample] = []
            defer { box.store(samples); stop.raise() }
            guard let watch = try? RESPClient(host: host, port: port, timeoutMillis: 10_000) else { return }
            for _ in 0..<10_000_000 {
                let t = wallClockMillis()
                guard let n = try? watch.dbsize() else { return }
                samples.append(Sample(wallMillis: t, keys: n))
                if t > lastDeadline && n <= baseline { return }
                if t > lastDeadline + timeoutMillis { return }
                sleepNanos(5_000_000)
            }
        }
        var traffic = BenchRunner.execute(
            PingGetWorkload(keyPrefix: prefix, keys: keys), caseName: "expiry traffic", server: server, round: round,
            options: options, seed: seed, console: console, report: &report, stop: stop) { plan in
                plan.warmup = 0
                plan.requests = nil
                plan.duration = Double(lastDeadline + timeoutMillis - wallClockMillis()) / 1000 + 5
            }
        stop.raise()
        watcher.join()
        let samples = box.take() ?? []
        traffic?.caseName = "expiry traffic"

        var record = ExpiryRecord(server: server.name, round: round, keys: keys, heldAtLastDeadline: nil, firstDropMillis: nil,
                                  allGoneMillis: nil, remainingAtTimeout: nil, traffic: traffic, notes: notes)
        if let stats = try? client.info("stats"), let v = stats["eventloop_duration_max"].flatMap(Double.init) {
            record.longestLoopMicros = v
        }
        if let s = samples.first(where: { $0.wallMillis >= lastDeadline }) { record.heldAtLastDeadline = max(0, s.keys - baseline) }
        if let s = samples.first(where: { $0.keys < baseline + keys }) { record.firstDropMillis = Double(s.wallMillis - firstDeadline) }
        if let s = samples.first(where: { $0.wallMillis > lastDeadline && $0.keys <= baseline }) {
            record.allGoneMillis = Double(s.wallMillis - lastDeadline)
        } else {
            record.remainingAtTimeout = samples.last.map { max(0, $0.keys - baseline) }
            record.notes.append("expired keys still present after the \(Int(options.expiryTimeout)) s timeout")
        }
        console.info("[expiry] \(server.name) round \(round): \(record.heldAtLastDeadline.map(String.init) ?? "?") expired keys held at the last deadline; all gone \(record.allGoneMillis.map { "\(Int($0)) ms after it" } ?? "not within the timeout")")
        return record
    }
}
