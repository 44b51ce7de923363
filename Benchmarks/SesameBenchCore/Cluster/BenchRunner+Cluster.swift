import Foundation

// `--cluster` and `migrate`: the session workload against a Redis Cluster (preload routed by
// slot, rounds run by ClusterEngine, load reported per node), and copying a standalone
// server's data into a cluster.

public struct ClusterNodeRecord: Codable, Sendable {
    public var round: Int
    public var node: String
    public var slots: Int
    public var ops: Int
    public var opsPerSec: Double
    public var commands: Int
    /// This node's share of the round's operations.
    public var share: Double
}

extension BenchRunner {
    static let clusterName = "cluster"

    static func runClusterSession(_ options: BenchOptions, seed: UInt64, console: Console, report: inout BenchReport) throws {
        let settings = options.session
        let cluster = try ClusterClient(seeds: options.servers)
        defer { cluster.close() }
        let topology = cluster.topology
        let seed0 = options.servers[0]
        report.servers = [ServerTarget(name: clusterName, host: seed0.host, port: seed0.port)]
        let slots = topology.slotsPerNode
        console.info("[session] cluster: \(topology.nodes.count) primaries: "
                     + zip(topology.nodes, slots).map { "\($0.address) (\($1) slots)" }.joined(separator: ", "))
        if options.flush {
            for n in topology.nodes.indices { try flush(try cluster.client(node: n), topology.nodes[n]) }
        }
        let table = SessionTable(users: settings.userCount, slotsPerUser: settings.slotsPerUser)
        if options.preload {
            let seconds = try SessionWorkload.preload(cluster, settings: settings, table: table, seed: seed) { done in
                if done % 10_000 == 0 { console.progress("[session] cluster: preloading \(done)/\(settings.sessions)") }
            }
            console.clearProgress()
            console.info("[session] cluster: preloaded \(settings.sessions) sessions for \(settings.userCount) users in "
                         + String(format: "%.1f", seconds) + " s; sessions per node: "
                         + zip(topology.nodes, cluster.itemsPerNode).map { "\($0.address) \($1)" }.joined(separator: ", "))
        }
        var crossSlot = 0, moved = 0, asked = 0
        for round in 1...options.rounds {
            let workload = SessionWorkload(settings: settings, table: table)
            var plan = plan(options, report.servers[0], seed: seed &+ UInt64(round))
            plan.serverPID = nil
            let label = "[session] cluster round \(round)/\(options.rounds)"
            do {
                let outcome = try ClusterEngine.run(workload, topology: topology, plan: plan,
                                                    progress: progressCallback(console, label: label))
                let record = RunRecord(caseName: "session", server: clusterName, round: round, outcome: outcome.load)
                report.runs.append(record)
                let total = max(1, outcome.opsPerNode.reduce(0, +))
                for (i, node) in outcome.nodes.enumerated() {
                    let ops = outcome.opsPerNode[i]
                    let owned = topology.nodes.firstIndex { $0.address == node }.map { slots[$0] } ?? 0
                    report.clusterNodes.append(ClusterNodeRecord(
                        round: round, node: node, slots: owned, ops: ops,
                        opsPerSec: outcome.load.seconds > 0 ? Double(ops) / outcome.load.seconds : 0,
                        commands: outcome.commandsPerNode[i], share: Double(ops) / Double(total)))
                }
                crossSlot += outcome.crossSlot
                moved += outcome.moved
                asked += outcome.asked
                console.clearProgress()
                var line = "\(label): \(Format.count(record.opsPerSec)) ops/s, p99 \(Format.micros(record.latencyMicros.p99)) us; per node "
                line += zip(outcome.nodes, outcome.opsPerNode).map { "\($0) \(Format.count(outcome.load.seconds > 0 ? Double($1) / outcome.load.seconds : 0))" }
                    .joined(separator: ", ")
                line += "; CROSSSLOT \(outcome.crossSlot), MOVED \(outcome.moved), ASK \(outcome.asked)"
                if record.errors > 0 { line += ", \(record.errors) errors (\(record.errorSamples.first ?? ""))" }
                console.info(line)
            } catch {
                console.warn("\(label): \(error)")
                report.unavailable[clusterName] = "\(error)"
                break
            }
        }
        report.settings["cluster"] = topology.nodes.map(\.address).joined(separator: ",")
        report.settings["crossSlotReplies"] = String(crossSlot)
        report.notes.append("Cluster of \(topology.nodes.count) primaries; over all rounds: \(crossSlot) CROSSSLOT replies, "
                            + "\(moved) MOVED and \(asked) ASK redirections followed.")
    }

    static func clusterNodeTable(_ report: BenchReport) -> TextTable {
        var table = TextTable(headers: ["node", "slots", "ops/s (median)", "share", "ops", "commands"], rightAligned: Set(1...5))
        var order: [String] = []
        for r in report.clusterNodes where !order.contains(r.node) { order.append(r.node) }
        for node in order {
            let rows = report.clusterNodes.filter { $0.node == node }
            let rates = rows.map(\.opsPerSec).sorted()
            let median = rates.isEmpty ? 0 : rates[rates.count / 2]
            let ops = rows.map(\.ops).reduce(0, +), commands = rows.map(\.commands).reduce(0, +)
            let share = rows.map(\.share).reduce(0, +) / Double(max(1, rows.count))
            table.rows.append([node, String(rows.first?.slots ?? 0), Format.count(median), Format.percent(share),
                               String(ops), String(commands)])
        }
        return table
    }

    // MARK: migrate

    /// SCAN the source; per key read its value and PTTL, write it to the cluster with plain
    /// commands (no DUMP/RESTORE, so any RESP server can be the source), keeping the TTL. Meant
    /// for a source that no longer takes writes: keys changed during the copy may be copied
    /// before or after the change.
    static func runMigrate(_ options: BenchOptions, console: Console, report: inout BenchReport) throws {
        guard let from = options.migrateFrom else { throw BenchError("migrate needs --from") }
        let source = try RESPClient(host: from.host, port: from.port, timeoutMillis: 30_000)
        defer { source.close() }
        let cluster = try ClusterClient(seeds: options.servers)
        defer { cluster.close() }
        report.servers = [ServerTarget(name: "\(from.address) -> cluster", host: from.host, port: from.port)]
        let started = monotonicNanos()
        var cursor = "0"
        var copied = 0, skipped = 0, expired = 0, errors = 0
        var firstError: String?
        repeat {
            guard case .array(let page?) = try source.command("SCAN", cursor, "COUNT", "500"), page.count == 2,
                  let next = page[0].string, case .array(let keys?) = page[1] else {
                throw BenchError("SCAN on \(from.address): unexpected reply")
            }
            cursor = next
            // Three pipelined round trips per page: TYPE of every key, then value + PTTL of each.
            let names: [[UInt8]] = keys.compactMap { if case .bulkString(let k?) = $0 { return k } else { return nil } }
            var request = CommandBuffer(capacity: 64 * 1024)
            for k in names { request.begin(2); request.arg("TYPE"); request.arg(k) }
            try source.send(request)
            let types = try names.map { _ in try source.readValue().string ?? "none" }
            request.removeAll()
            for (k, type) in zip(names, types) {
                let read: StaticString? = type == "string" ? "GET" : type == "hash" ? "HGETALL" : type == "set" ? "SMEMBERS" : nil
                guard let read else { continue }
                request.begin(2); request.arg(read); request.arg(k)
                request.begin(2); request.arg("PTTL"); request.arg(k)
            }
            try source.send(request)
            var items: [(key: [UInt8], value: RESPValue, type: String, pttl: Int64)] = []
            for (k, type) in zip(names, types) {
                switch type {
                case "string", "hash", "set":
                    let value = try source.readValue()
                    guard case .integer(let pttl) = try source.readValue() else { throw BenchError("PTTL: unexpected reply") }
                    // Gone between SCAN and the read (expired or deleted): nothing to copy.
                    if pttl == -2 || value == .bulkString(nil) || value == .null { expired += 1; continue }
                    items.append((k, value, type, pttl))
                case "none": expired += 1
                default: skipped += 1
                }
            }
            let result = try cluster.pipelined(items.count, batch: max(1, items.count)) { i, b in
                let it = items[i]
                var replies = 1
                // DEL first: the copy replaces what the cluster held under that name.
                b.begin(2); b.arg("DEL"); b.arg(it.key)
                switch (it.type, it.value) {
                case ("string", .bulkString(let v?)):
                    b.begin(3); b.arg("SET"); b.arg(it.key); b.arg(v); replies += 1
                case ("hash", .array(let fv?)), ("hash", .map(let fv)):
                    b.begin(2 + fv.count); b.arg("HSET"); b.arg(it.key)
                    for x in fv { if case .bulkString(let s?) = x { b.arg(s) } else { b.arg(x.string ?? "") } }
                    replies += 1
                case ("set", .array(let ms?)), ("set", .set(let ms)):
                    b.begin(2 + ms.count); b.arg("SADD"); b.arg(it.key)
                    for x in ms { if case .bulkString(let s?) = x { b.arg(s) } else { b.arg(x.string ?? "") } }
                    replies += 1
                default: break
                }
                if it.pttl > 0 { b.begin(3); b.arg("PEXPIRE"); b.arg(it.key); b.arg(Int(it.pttl)); replies += 1 }
                return replies
            }
            copied += items.count
            errors += result.errors
            if firstError == nil { firstError = result.firstError }
            console.progress("[migrate] \(copied) keys copied")
        } while cursor != "0"
        console.clearProgress()
        let seconds = Double(monotonicNanos() - started) / 1e9
        report.settings["from"] = from.address
        report.settings["cluster"] = cluster.topology.nodes.map(\.address).joined(separator: ",")
        report.notes.append("migrate: \(copied) keys copied from \(from.address) into \(cluster.topology.nodes.count) primaries in "
                            + String(format: "%.2f", seconds) + " s; per node: "
                            + zip(cluster.topology.nodes, cluster.itemsPerNode).map { "\($0.address) \($1)" }.joined(separator: ", ")
                            + "; \(expired) expired or deleted meanwhile, \(skipped) of other types skipped, \(errors) error replies"
                            + (firstError.map { " (first: \($0))" } ?? "") + ".")
        if errors > 0 { throw BenchError("migrate: \(errors) error replies (first: \(firstError ?? ""))") }
    }
}
