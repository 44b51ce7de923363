#if canImport(Glibc)
import Glibc
#endif

// The load loop for a cluster (`--cluster`). A logical connection is one socket per primary;
// each operation the workload produces goes whole to the node owning the slot of its first key
// (the session workload keeps every operation inside one {user} hash tag, so one slot). Closed
// loop only: each logical connection keeps `pipeline` operations in flight across its nodes.
//
// Redirections are followed per operation: when any reply of an operation is -MOVED slot
// host:port, the slot map entry is updated (connecting to a node not seen before) and the
// whole operation is sent again there; -ASK sends it once to the named node, each command
// preceded by ASKING. Redirected attempts are not errors; the latency of the operation runs
// from its first send to its last reply. CROSSSLOT replies are counted separately: the proof
// that the workload never spans slots is that this count stays zero. Follow-up commands
// (OperationGenerator.observeLastReply) are not supported: workloads that send them are refused.

public struct ClusterOutcome: Sendable {
    public var load: LoadOutcome
    /// Node addresses (index = node), after any discovered by redirection.
    public var nodes: [String]
    /// Counted operations completed per node.
    public var opsPerNode: [Int]
    public var commandsPerNode: [Int]
    public var moved: Int
    public var asked: Int
    public var crossSlot: Int
}

public enum ClusterEngine {
    public static func run<W: Workload>(_ workload: W, topology: ClusterTopology, plan: LoadPlan, stop: StopFlag? = nil,
                                        progress: ProgressCallback? = nil) throws -> ClusterOutcome {
        if plan.rate != nil { throw BenchError("--rate (open loop) is not supported with --cluster") }
        if workload.sendsFollowUps {
            throw BenchError("operations with follow-up round trips (--plain-validate checked) are not supported with --cluster")
        }
        let connections = max(1, plan.connections)
        let threads = max(1, min(plan.threads, connections))
        let requestMode = plan.requests != nil && plan.duration == nil
        let warmup = requestMode ? 0 : max(0, plan.warmup)
        let start = monotonicNanos() + 2_000_000
        let measureStart = start + UInt64(warmup * 1e9)
        let hardEnd = start + UInt64(max(0.001, plan.maxSeconds) * 1e9)
        let end: UInt64 = requestMode ? hardEnd : min(hardEnd, measureStart + UInt64(max(0.001, plan.duration ?? 10) * 1e9))
        let stopFlag = stop ?? StopFlag()

        // Connect everything up front so a dead node fails the run before it starts.
        var groups: [[Int32]] = []
        do {
            for _ in 0..<connections {
                var fds: [Int32] = []
                for n in topology.nodes { fds.append(try Sys.connect(host: n.host, port: n.port)) }
                groups.append(fds)
            }
        } catch {
            for g in groups { for fd in g { Sys.close(fd) } }
            throw error
        }

        let counters = (0..<threads).map { _ in SharedCounter() }
        let finished = SharedCounter()
        let boxes = (0..<threads).map { _ in ResultBox<ClusterWorkerOutput>() }
        var workers: [WorkerThread] = []
        for t in 0..<threads {
            let lower = t * connections / threads, upper = (t + 1) * connections / threads
            var budgets: [Int] = []
            for c in lower..<upper {
                if let requests = plan.requests {
                    budgets.append(requests / connections + (c < requests % connections ? 1 : 0))
                } else {
                    budgets.append(Int.max)
                }
            }
            let settings = ClusterWorkerSettings(groups: Array(groups[lower..<upper]), budgets: budgets, topology: topology,
                                                 pipeline: max(1, plan.pipeline), start: start, measureStart: measureStart,
                                                 end: end, seed: plan.seed &+ UInt64(t) &* 0x9E37_79B9)
            let counter = counters[t], box = boxes[t]
            do {
                workers.append(try WorkerThread {
                    var generator = workload.makeGenerator(worker: t, seed: settings.seed)
                    var worker = ClusterWorker(settings, typeCount: workload.operationNames.count)
                    worker.run(&generator, counter: counter, stop: stopFlag)
                    box.store(worker.output())
                    finished.increment()
                })
            } catch {
                stopFlag.raise()
                for w in workers { w.join() }
                for g in groups[lower...] { for fd in g { Sys.close(fd) } }
                throw error
            }
        }

        let totalSeconds: Double? = requestMode ? nil : Double(end - measureStart) / 1e9
        var now = monotonicNanos()
        while now < measureStart && finished.load() < threads {
            sleepNanos(min(measureStart - now, 50_000_000))
            now = monotonicNanos()
        }
        let clientBefore = Sys.processCPUSeconds()
        let windowStart = monotonicNanos()
        var lastProgress = windowStart
        var windowEnd = windowStart
        while true {
            now = monotonicNanos()
            if finished.load() >= threads || stopFlag.isRaised { windowEnd = requestMode ? now : min(now, end); break }
            if now >= end { windowEnd = end; break }
            if let progress, now - lastProgress >= 250_000_000 {
                lastProgress = now
                progress(Double(now - windowStart) / 1e9, totalSeconds, counters.reduce(0) { $0 + $1.load() })
            }
            sleepNanos(min(end - now, 20_000_000))
        }
        let clientAfter = Sys.processCPUSeconds()
        for w in workers { w.join() }

        let types = workload.operationNames.count
        var outcome = ClusterOutcome(
            load: LoadOutcome(operationNames: workload.operationNames, histograms: Array(repeating: Histogram(), count: types),
                              counts: Array(repeating: 0, count: types), errors: Array(repeating: 0, count: types),
                              empties: Array(repeating: 0, count: types), commands: 0,
                              seconds: Double(windowEnd - max(windowStart, measureStart)) / 1e9,
                              clientCPUSeconds: clientAfter - clientBefore, serverCPUSeconds: nil, errorSamples: [], threads: threads),
            nodes: topology.nodes.map(\.address), opsPerNode: Array(repeating: 0, count: topology.nodes.count),
            commandsPerNode: Array(repeating: 0, count: topology.nodes.count), moved: 0, asked: 0, crossSlot: 0)
        for box in boxes {
            guard let o = box.take() else { continue }
            for i in 0..<types {
                outcome.load.histograms[i].merge(o.histograms[i])
                outcome.load.counts[i] += o.counts[i]
                outcome.load.errors[i] += o.errors[i]
                outcome.load.empties[i] += o.empties[i]
            }
            outcome.load.commands += o.commands
            for s in o.errorSamples where outcome.load.errorSamples.count < 5 { outcome.load.errorSamples.append(s) }
            // Workers may have learned nodes from MOVED: merge by address.
            for (n, address) in o.nodes.enumerated() {
                var i = outcome.nodes.firstIndex(of: address) ?? -1
                if i < 0 {
                    outcome.nodes.append(address); outcome.opsPerNode.append(0); outcome.commandsPerNode.append(0)
                    i = outcome.nodes.count - 1
                }
                outcome.opsPerNode[i] += o.opsPerNode[n]
                outcome.commandsPerNode[i] += o.commandsPerNode[n]
            }
            outcome.moved += o.moved
            outcome.asked += o.asked
            outcome.crossSlot += o.crossSlot
        }
        if requestMode { outcome.load.seconds = Double(windowEnd - measureStart) / 1e9 }
        return outcome
    }
}

struct ClusterWorkerSettings: @unchecked Sendable {
    var groups: [[Int32]]
    var budgets: [Int]
    var topology: ClusterTopology
    var pipeline: Int
    var start: UInt64
    var measureStart: UInt64
    var end: UInt64
    var seed: UInt64
}

struct ClusterWorkerOutput: Sendable {
    var histograms: [Histogram]
    var counts: [Int]
    var errors: [Int]
    var empties: [Int]
    var commands: Int
    var errorSamples: [String]
    var nodes: [String]
    var opsPerNode: [Int]
    var commandsPerNode: [Int]
    var moved: Int
    var asked: Int
    var crossSlot: Int
}

/// An operation in flight on one node socket. Its bytes are kept for a redirected re-send.
struct ClusterOp {
    var start: UInt64
    var type: Int
    var commands: Int
    var remaining: Int
    var bytes: [UInt8]
    var group: Int
    var error = false
    var empty = false
    var firstReply = true
    /// Set by a -MOVED / -ASK reply: where to send the operation again.
    var redirect: (ask: Bool, slot: Int, host: String, port: Int)? = nil
    var attempts = 1
}

/// One socket to one node, within one logical connection.
final class NodeSocket {
    let fd: Int32
    let node: Int
    var output: [UInt8] = []
    var input = [UInt8](repeating: 0, count: 64 * 1024)
    var inputStart = 0
    var inputEnd = 0
    /// Operations sent on this socket, oldest first (replies come back in order).
    var queue: [ClusterOp] = []
    var queueHead = 0
    var dead = false

    init(fd: Int32, node: Int) {
        self.fd = fd
        self.node = node
        output.reserveCapacity(16 * 1024)
    }

    deinit { Sys.close(fd) }
}

struct ClusterWorker {
    let settings: ClusterWorkerSettings
    var topology: ClusterTopology
    /// sockets[group][node]; nil until needed for a node learned from MOVED.
    var sockets: [[NodeSocket?]]
    var inFlight: [Int]
    var budgets: [Int]
    var histograms: [Histogram]
    var counts: [Int]
    var errors: [Int]
    var empties: [Int]
    var commands = 0
    var errorSamples: [String] = []
    var opsPerNode: [Int]
    var commandsPerNode: [Int]
    var moved = 0
    var asked = 0
    var crossSlot = 0
    var completed = 0
    let parser = RESPReplyParser()

    init(_ settings: ClusterWorkerSettings, typeCount: Int) {
        self.settings = settings
        topology = settings.topology
        sockets = settings.groups.map { fds in fds.enumerated().map { NodeSocket(fd: $1, node: $0) } }
        inFlight = Array(repeating: 0, count: settings.groups.count)
        budgets = settings.budgets
        histograms = Array(repeating: Histogram(), count: typeCount)
        counts = Array(repeating: 0, count: typeCount)
        errors = Array(repeating: 0, count: typeCount)
        empties = Array(repeating: 0, count: typeCount)
        opsPerNode = Array(repeating: 0, count: topology.nodes.count)
        commandsPerNode = Array(repeating: 0, count: topology.nodes.count)
    }

    func output() -> ClusterWorkerOutput {
        ClusterWorkerOutput(histograms: histograms, counts: counts, errors: errors, empties: empties, commands: commands,
                            errorSamples: errorSamples, nodes: topology.nodes.map(\.address), opsPerNode: opsPerNode,
                            commandsPerNode: commandsPerNode, moved: moved, asked: asked, crossSlot: crossSlot)
    }

    mutating func sample(_ message: String) {
        if errorSamples.count < 5 { errorSamples.append(message) }
    }

    /// The socket of `group` to `node`, connecting on first use (nodes learned from MOVED).
    mutating func socket(_ group: Int, _ node: Int) -> NodeSocket? {
        while sockets[group].count <= node { sockets[group].append(nil) }
        while opsPerNode.count <= node { opsPerNode.append(0); commandsPerNode.append(0) }
        if let s = sockets[group][node] { return s.dead ? nil : s }
        let n = topology.nodes[node]
        guard let fd = try? Sys.connect(host: n.host, port: n.port) else {
            sample("cannot connect to \(n.address)")
            return nil
        }
        let s = NodeSocket(fd: fd, node: node)
        sockets[group][node] = s
        return s
    }

    /// Queues `op` on the node owning `slot` (or `node` when given).
    mutating func send(_ op: ClusterOp, slot: Int, node explicit: Int? = nil) {
        let owner = explicit ?? Int(topology.owner[slot])
        guard owner >= 0, let s = socket(op.group, owner) else {
            fail(op, "slot \(slot) has no reachable node")
            return
        }
        s.output += op.bytes
        s.queue.append(op)
    }

    mutating func fail(_ op: ClusterOp, _ message: String) {
        errors[op.type] += 1
        inFlight[op.group] -= 1
        sample(message)
    }

    mutating func run<G: OperationGenerator>(_ generator: inout G, counter: SharedCounter, stop: StopFlag) {
        var buffer = CommandBuffer(capacity: 4096)
        var now = monotonicNanos()
        if now < settings.start { sleepNanos(settings.start - now) }
        var end = settings.end
        var draining = false
        var pollfds: [pollfd] = []
        var pollSockets: [NodeSocket] = []
        while true {
            now = monotonicNanos()
            if !draining && (now >= end || stop.isRaised) {
                draining = true
                end = now + 1_000_000_000
            }
            if draining && now >= end { break }

            // Issue: every logical connection tops up to `pipeline` operations in flight.
            if !draining {
                for g in 0..<sockets.count {
                    while inFlight[g] < settings.pipeline && budgets[g] > 0 {
                        buffer.removeAll()
                        let (type, replies) = generator.encodeNext(into: &buffer)
                        let slot = buffer.bytes.withUnsafeBytes { EncodedCommands.firstKeySlot($0) }
                        let op = ClusterOp(start: monotonicNanos(), type: type, commands: replies, remaining: replies,
                                           bytes: buffer.bytes, group: g)
                        inFlight[g] += 1
                        budgets[g] -= 1
                        send(op, slot: slot)
                    }
                }
            }
            if inFlight.allSatisfy({ $0 == 0 }) && (draining || budgets.allSatisfy { $0 <= 0 }) { break }

            // Write, then wait for replies on every socket with work outstanding.
            pollfds.removeAll(keepingCapacity: true)
            pollSockets.removeAll(keepingCapacity: true)
            for row in sockets {
                for case let s? in row where !s.dead {
                    if !s.output.isEmpty { flush(s) }
                    if s.queueHead < s.queue.count || !s.output.isEmpty {
                        pollfds.append(pollfd(fd: s.fd, events: Int16(POLLIN) | (s.output.isEmpty ? 0 : Int16(POLLOUT)), revents: 0))
                        pollSockets.append(s)
                    }
                }
            }
            if pollfds.isEmpty { continue }
            let ready = pollfds.withUnsafeMutableBufferPointer { Sys.poll($0.baseAddress!, $0.count, 100) }
            if ready < 0 { break }
            if ready == 0 { continue }
            for i in 0..<pollfds.count where pollfds[i].revents != 0 {
                let s = pollSockets[i]
                if pollfds[i].revents & Int16(POLLOUT) != 0 { flush(s) }
                if pollfds[i].revents & Int16(POLLIN | POLLERR | POLLHUP) != 0 { read(s) }
            }
            counter.store(completed)
        }
        counter.store(completed)
    }

    mutating func flush(_ s: NodeSocket) {
        let result = s.output.withUnsafeBytes { Sys.write(s.fd, $0.baseAddress!, $0.count) }
        switch result {
        case .done(let n): s.output.removeFirst(n)
        case .wouldBlock: break
        case .endOfFile: kill(s, "connection closed while writing")
        case .failed(let code): kill(s, "write: \(errnoText(code))")
        }
    }

    mutating func kill(_ s: NodeSocket, _ message: String) {
        guard !s.dead else { return }
        s.dead = true
        for op in s.queue[s.queueHead...] { fail(op, message) }
        s.queue.removeAll()
        s.queueHead = 0
    }

    mutating func read(_ s: NodeSocket) {
        if s.inputStart == s.inputEnd { s.inputStart = 0; s.inputEnd = 0 }
        if s.inputEnd == s.input.count {
            if s.inputStart > 0 {
                s.input.replaceSubrange(0..<(s.inputEnd - s.inputStart), with: s.input[s.inputStart..<s.inputEnd])
                s.inputEnd -= s.inputStart
                s.inputStart = 0
            } else {
                s.input += [UInt8](repeating: 0, count: s.input.count)
            }
        }
        let space = s.input.count - s.inputEnd
        let result = s.input.withUnsafeMutableBytes { Sys.read(s.fd, $0.baseAddress! + s.inputEnd, space) }
        switch result {
        case .done(let n): s.inputEnd += n
        case .wouldBlock: return
        case .endOfFile: kill(s, "connection closed by server"); return
        case .failed(let code): kill(s, "read: \(errnoText(code))"); return
        }
        let now = monotonicNanos()
        while s.inputStart < s.inputEnd && s.queueHead < s.queue.count {
            let summary: ReplySummary?
            do {
                summary = try s.input.withUnsafeBytes {
                    try parser.scan(UnsafeRawBufferPointer(rebasing: $0[s.inputStart..<s.inputEnd]))
                }
            } catch {
                kill(s, "malformed reply: \(error)")
                return
            }
            guard let summary else { break }
            let reply = s.inputStart
            s.inputStart += summary.length
            var op = s.queue[s.queueHead]
            if summary.isError {
                let text = String(decoding: s.input[(reply + 1)..<(reply + summary.length - 2)], as: UTF8.self)
                if let r = Self.redirection(text) {
                    if op.redirect == nil { op.redirect = r }
                } else {
                    op.error = true
                    if text.hasPrefix("CROSSSLOT") { crossSlot += 1 }
                    sample(text)
                }
            }
            if op.firstReply && summary.isEmpty { op.empty = true }
            op.firstReply = false
            op.remaining -= 1
            s.queue[s.queueHead] = op
            if op.remaining > 0 { continue }
            s.queueHead += 1
            if s.queueHead > 64 && s.queueHead * 2 > s.queue.count {
                s.queue.removeFirst(s.queueHead)
                s.queueHead = 0
            }
            finish(op, on: s.node, now: now)
        }
    }

    /// "MOVED 3999 127.0.0.1:6381" / "ASK 3999 127.0.0.1:6381".
    static func redirection(_ text: String) -> (ask: Bool, slot: Int, host: String, port: Int)? {
        let parts = text.split(separator: " ")
        guard parts.count == 3, parts[0] == "MOVED" || parts[0] == "ASK", let slot = Int(parts[1]),
              let colon = parts[2].lastIndex(of: ":"), let port = Int(parts[2][parts[2].index(after: colon)...]) else { return nil }
        var host = String(parts[2][..<colon])
        if host.isEmpty { host = "127.0.0.1" }
        return (parts[0] == "ASK", slot, host, port)
    }

    mutating func finish(_ op: ClusterOp, on node: Int, now: UInt64) {
        if let r = op.redirect, op.attempts < 5 {
            // Send the whole operation again where the cluster says its slot lives.
            let target = topology.index(ofHost: r.host, port: r.port)
            var again = op
            again.redirect = nil
            again.attempts += 1
            again.firstReply = true
            again.error = false
            again.empty = false
            if r.ask {
                // Once to the importing node, each command preceded by ASKING (its +OK is one
                // more reply per command).
                asked += 1
                let asking = Array("*1\r\n$6\r\nASKING\r\n".utf8)
                let bounds = op.bytes.withUnsafeBytes { EncodedCommands.boundaries($0) }
                var bytes: [UInt8] = []
                for k in 0..<(bounds.count - 1) where !op.bytes[bounds[k]..<bounds[k + 1]].starts(with: asking) {
                    bytes += asking
                    bytes += op.bytes[bounds[k]..<bounds[k + 1]]
                }
                again.bytes = bytes
                again.remaining = bytes.withUnsafeBytes { EncodedCommands.boundaries($0) }.count - 1
                send(again, slot: r.slot, node: target)
            } else {
                moved += 1
                topology.owner[r.slot] = Int16(target)
                again.remaining = op.bytes.withUnsafeBytes { EncodedCommands.boundaries($0) }.count - 1
                send(again, slot: r.slot)
            }
            return
        }
        if op.redirect != nil {
            errors[op.type] += 1
            sample("too many redirections")
        }
        inFlight[op.group] -= 1
        guard op.start >= settings.measureStart && now <= settings.end else { return }
        histograms[op.type].record(now &- op.start)
        counts[op.type] += 1
        if op.error { errors[op.type] += 1 }
        if op.empty { empties[op.type] += 1 }
        commands += op.commands
        completed += 1
        while opsPerNode.count <= node { opsPerNode.append(0); commandsPerNode.append(0) }
        opsPerNode[node] += 1
        commandsPerNode[node] += op.commands
    }
}
