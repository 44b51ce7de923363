import Foundation
import Testing
@testable import SesameBenchCore
#if canImport(Sesame)
import Sesame
#endif
#if canImport(Glibc)
import Glibc
#endif

// The harness's cluster mode: slot function and parsing, the session workload and `migrate`
// against an in-process Sesame presenting itself as a one-node cluster, and a short run on a
// real 3-primary Redis Cluster started on loopback (redis-server + redis-cli --cluster create),
// which must form within a minute. That test runs when redis-server and redis-cli are on PATH,
// and always with CI=true (missing tools are then a failure).

@Suite struct ClusterHarnessUnitTests {
    @Test func slotFunctionMatchesRedis() {
        // Values from CLUSTER KEYSLOT on Redis 7.
        #expect(HashSlots.slot("foo") == 12182)
        #expect(HashSlots.slot("foo{bar}") == 5061)
        #expect(HashSlots.slot("123456789") == 12739)
        #expect(HashSlots.slot("{}x") == HashSlots.slot("{}x"))
        #expect(HashSlots.slot("sess:{42}:abc") == HashSlots.slot("user_sessions:{42}"))
        #expect(HashSlots.slot("{}") != HashSlots.slot(""))
    }

    @Test func routingKeyAndCommandBoundariesOfEncodedOperations() {
        var b = CommandBuffer()
        b.command(["HSET", "sess:{7}:a", "f", "v"])
        b.command(["SADD", "user_sessions:{7}", "sess:{7}:a"])
        b.command(["PING"])
        b.bytes.withUnsafeBytes { raw in
            #expect(EncodedCommands.firstKeySlot(raw) == HashSlots.slot("7"))
            #expect(EncodedCommands.boundaries(raw).count == 4)
            #expect(EncodedCommands.boundaries(raw).last == raw.count)
        }
        #expect(Array(CommandBuffer.encode(["PING"])).withUnsafeBytes { EncodedCommands.firstKeySlot($0) } == 0)
    }

    @Test func clusterSlotsReplyAndRedirections() throws {
        let seed = ServerTarget(name: "s", host: "127.0.0.1", port: 7000)
        func node(_ ip: String, _ port: Int64) -> SesameBenchCore.RESPValue {
            .array([.bulkString(Array(ip.utf8)), .integer(port), .bulkString(Array("id".utf8))])
        }
        let reply = SesameBenchCore.RESPValue.array([
            .array([.integer(0), .integer(5460), node("", 7000)]),
            .array([.integer(5461), .integer(16383), node("127.0.0.1", 7001), node("127.0.0.1", 7101)]),
        ])
        let t = try ClusterTopology.parse(reply, seed: seed)
        #expect(t.nodes.map(\.address) == ["127.0.0.1:7000", "127.0.0.1:7001"])
        #expect(t.owner[0] == 0 && t.owner[5460] == 0 && t.owner[5461] == 1 && t.owner[16383] == 1)
        #expect(t.slotsPerNode == [5461, 10923])
        #expect(throws: BenchError.self) { try ClusterTopology.parse(.error("ERR This instance has cluster support disabled"), seed: seed) }

        let moved = try #require(ClusterWorker.redirection("MOVED 3999 127.0.0.1:6381"))
        #expect(!moved.ask && moved.slot == 3999 && moved.host == "127.0.0.1" && moved.port == 6381)
        let ask = try #require(ClusterWorker.redirection("ASK 1 :6380"))
        #expect(ask.ask && ask.host == "127.0.0.1" && ask.port == 6380)
        #expect(ClusterWorker.redirection("CROSSSLOT Keys in request don't hash to the same slot") == nil)
    }

    @Test func optionsRequireWhatClusterModeSupports() throws {
        #expect(throws: BenchError.self) { try BenchOptions.parse(["ops", "--cluster"]) }
        #expect(throws: BenchError.self) { try BenchOptions.parse(["session", "--cluster", "--rate", "100"]) }
        #expect(throws: BenchError.self) { try BenchOptions.parse(["migrate", "--server", "127.0.0.1:7000"]) }
        let m = try BenchOptions.parse(["migrate", "--from", "127.0.0.1:6379", "--server", "127.0.0.1:7000"])
        #expect(m.cluster && m.migrateFrom?.port == 6379)
    }
}

enum ClusterRun {
    static func sessionOptions(_ ports: [Int], sessions: Int = 1000) throws -> BenchOptions {
        try BenchOptions.parse(["session", "--cluster"] + ports.flatMap { ["--server", "127.0.0.1:\($0)"] }
                               + ["--sessions", String(sessions), "--connections", "6", "--threads", "2", "--pipeline", "2",
                                  "--duration", "1.5", "--warmup", "0", "--rounds", "1", "--seed", "3"])
    }

    /// One round, no errors, every node loaded, no CROSSSLOT; the per-node table rendered.
    static func check(_ report: BenchReport, nodes: Int) {
        #expect(report.unavailable.isEmpty, "\(report.unavailable)")
        #expect(report.runs.count == 1)
        guard let run = report.runs.first else { return }
        #expect(run.ops > 0)
        #expect(run.errors == 0, "errors: \(run.errorSamples)")
        #expect(Double(run.operations[0].empty) < Double(run.operations[0].ops) * 0.2, "validations missed")
        #expect(report.clusterNodes.count == nodes, "\(report.clusterNodes.map(\.node))")
        for n in report.clusterNodes { #expect(n.ops > 0, "no load on \(n.node)") }
        #expect(report.clusterNodes.map(\.ops).reduce(0, +) == run.ops)
        #expect(report.settings["crossSlotReplies"] == "0")
        let text = ReportRenderer.render(report, format: .markdown)
        #expect(text.contains("### Per cluster node"))
        #expect(text.contains("| session | cluster |"))
    }
}

@Suite(.serialized) struct ClusterHarnessIntegrationTests {
    #if canImport(Sesame)
    @Test(.timeLimit(.minutes(3)))
    func sessionAndMigrateAgainstOneNodeSesameCluster() throws {
        let node = SesameServer(configuration: {
            var c = Configuration(port: 0, threads: 1)
            c.clusterEnabled = true
            return c
        }())
        try node.start()
        defer { node.stop() }
        let report = try BenchRunner.run(try ClusterRun.sessionOptions([node.port]))
        ClusterRun.check(report, nodes: 1)

        // migrate: a standalone Sesame's strings, hashes and sets, with TTLs, into the cluster.
        let source = SesameServer(configuration: Configuration(port: 0, threads: 1))
        try source.start()
        defer { source.stop() }
        let src = try RESPClient(host: "127.0.0.1", port: source.port)
        let dst = try RESPClient(host: "127.0.0.1", port: node.port)
        _ = try dst.command("FLUSHALL")
        _ = try src.command("HSET", "sess:{1}:a", "userId", "1", "ip", "10.0.0.1")
        _ = try src.command("PEXPIRE", "sess:{1}:a", "600000")
        _ = try src.command("SADD", "user_sessions:{1}", "sess:{1}:a", "sess:{1}:b")
        _ = try src.command("SET", "plain", "v")
        for i in 0..<300 { _ = try src.command("SET", "k\(i)", "\(i)", "EX", "900") }
        let migrate = try BenchRunner.run(try BenchOptions.parse(["migrate", "--from", "127.0.0.1:\(source.port)",
                                                                  "--server", "127.0.0.1:\(node.port)"]))
        #expect(migrate.unavailable.isEmpty)
        #expect(try dst.dbsize() == 303)
        #expect(try dst.command("HGET", "sess:{1}:a", "ip") == .bulkString(Array("10.0.0.1".utf8)))
        guard case .integer(let pttl) = try dst.command("PTTL", "sess:{1}:a") else { Issue.record("PTTL"); return }
        #expect(pttl > 500_000 && pttl <= 600_000)
        #expect(try dst.command("SCARD", "user_sessions:{1}") == .integer(2))
        #expect(try dst.command("TTL", "plain") == .integer(-1))
        #expect(try dst.command("GET", "k77") == .bulkString(Array("77".utf8)))
        #expect(ReportRenderer.render(migrate, format: .markdown).contains("303 keys copied"))
    }
    #endif

    @Test(.timeLimit(.minutes(3)))
    func shortWorkloadOnARealThreePrimaryRedisCluster() throws {
        guard let redis = TestServers.executableOnPath("redis-server"), let cli = TestServers.executableOnPath("redis-cli") else {
            if TestServers.isCI {
                Issue.record("redis-server / redis-cli are not on PATH, and CI=true requires them")
            } else {
                print("skipping shortWorkloadOnARealThreePrimaryRedisCluster: redis-server or redis-cli is not on PATH")
            }
            return
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sesame-cluster-\(UInt32.random(in: 0...UInt32.max))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var nodes: [TestServers.Child] = []
        defer { for n in nodes { n.stop() } }
        var ports: [Int] = []
        for i in 0..<3 {
            // Explicit bus ports: the default (port + 10000) overflows for ephemeral ports.
            let port = try TestServers.freePort(), bus = try TestServers.freePort()
            nodes.append(try TestServers.Child(redis, [
                "--port", String(port), "--cluster-port", String(bus), "--bind", "127.0.0.1", "--cluster-enabled", "yes",
                "--cluster-config-file", "\(dir)/nodes-\(i).conf", "--dir", dir, "--save", "", "--appendonly", "no",
                "--daemonize", "no"]))
            ports.append(port)
        }
        for p in ports { try TestServers.waitForPing(port: p) }
        let started = monotonicNanos()
        let create = Process()
        create.executableURL = URL(fileURLWithPath: cli)
        create.arguments = ["--cluster", "create"] + ports.map { "127.0.0.1:\($0)" } + ["--cluster-replicas", "0", "--cluster-yes"]
        let output = Pipe()
        create.standardOutput = output
        create.standardError = output
        try create.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        create.waitUntilExit()
        try #require(create.terminationStatus == 0, "redis-cli --cluster create failed:\n\(text)")
        // Formed when every node reports cluster_state:ok, within a minute of the create.
        var formed = false
        while !formed && monotonicNanos() - started < 60_000_000_000 {
            formed = try ports.allSatisfy { p in
                let c = try RESPClient(host: "127.0.0.1", port: p)
                return try c.command("CLUSTER", "INFO").string?.contains("cluster_state:ok") ?? false
            }
            if !formed { sleepNanos(100_000_000) }
        }
        try #require(formed, "the 3-node cluster did not reach cluster_state:ok within a minute")

        let report = try BenchRunner.run(try ClusterRun.sessionOptions(ports))
        ClusterRun.check(report, nodes: 3)
        let slots = report.clusterNodes.map(\.slots)
        #expect(slots.reduce(0, +) == 16384, "\(slots)")

        // A stale slot map (every slot on the first node): each miss is answered -MOVED, which
        // the engine follows, updating its map, without counting errors.
        let truth = try ClusterTopology.discover(seeds: [ServerTarget(name: "a", host: "127.0.0.1", port: ports[0])])
        var stale = truth
        stale.owner = Array(repeating: 0, count: ClusterTopology.slotCount)
        var settings = SessionSettings()
        settings.sessions = 200
        let table = SessionTable(users: settings.userCount, slotsPerUser: settings.slotsPerUser)
        let cluster = try ClusterClient(seeds: [ServerTarget(name: "a", host: "127.0.0.1", port: ports[0])])
        _ = try SessionWorkload.preload(cluster, settings: settings, table: table, seed: 9)
        var plan = LoadPlan(host: "127.0.0.1", port: ports[0])
        plan.connections = 2
        plan.duration = nil
        plan.requests = 400
        plan.warmup = 0
        let outcome = try ClusterEngine.run(SessionWorkload(settings: settings, table: table), topology: stale, plan: plan)
        #expect(outcome.load.totalOps == 400)
        #expect(outcome.load.totalErrors == 0, "\(outcome.load.errorSamples)")
        #expect(outcome.moved > 0)
        #expect(outcome.crossSlot == 0)
        #expect(outcome.opsPerNode.filter { $0 > 0 }.count == 3, "\(outcome.nodes) \(outcome.opsPerNode)")

        // A slot being migrated: its owner answers -ASK for keys it does not hold, and the
        // engine sends ASKING + the command to the importing node, without errors.
        let slot = HashSlots.slot("asktag")
        let ownerPort = truth.nodes[Int(truth.owner[slot])].port
        let targetPort = try #require(ports.first { $0 != ownerPort })
        let owner = try RESPClient(host: "127.0.0.1", port: ownerPort)
        let target = try RESPClient(host: "127.0.0.1", port: targetPort)
        let ownerID = try #require(try owner.command("CLUSTER", "MYID").string)
        let targetID = try #require(try target.command("CLUSTER", "MYID").string)
        #expect(try target.command("CLUSTER", "SETSLOT", String(slot), "IMPORTING", ownerID) == .simpleString("OK"))
        #expect(try owner.command("CLUSTER", "SETSLOT", String(slot), "MIGRATING", targetID) == .simpleString("OK"))
        var askPlan = LoadPlan(host: "127.0.0.1", port: ports[0])
        askPlan.connections = 2
        askPlan.duration = nil
        askPlan.requests = 50
        askPlan.warmup = 0
        let asked = try ClusterEngine.run(FreshKeyWorkload(tag: "asktag"), topology: truth, plan: askPlan)
        #expect(asked.load.totalOps == 50)
        #expect(asked.load.totalErrors == 0, "\(asked.load.errorSamples)")
        #expect(asked.asked == 50)
        #expect(asked.moved == 0)
        #expect(try target.command("CLUSTER", "COUNTKEYSINSLOT", String(slot)) == .integer(50))
        #expect(try owner.command("CLUSTER", "COUNTKEYSINSLOT", String(slot)) == .integer(0))
    }
}

/// SET of a key never written before, all in one hash tag's slot: what a migrating slot's
/// owner answers with -ASK.
struct FreshKeyWorkload: Workload {
    let tag: String
    var operationNames: [String] { ["set"] }

    struct Generator: OperationGenerator {
        let prefix: String
        var n = 0
        mutating func encodeNext(into buffer: inout CommandBuffer) -> (type: Int, replies: Int) {
            n += 1
            buffer.command(["SET", "\(prefix)\(n)", "v"])
            return (0, 1)
        }
    }

    func makeGenerator(worker: Int, seed: UInt64) -> Generator {
        Generator(prefix: "{\(tag)}:\(worker):\(seed):")
    }
}
