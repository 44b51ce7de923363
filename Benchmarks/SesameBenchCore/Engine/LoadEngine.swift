#if canImport(Glibc)
import Glibc
#endif
import Synchronization

// The load loop. `threads` pthreads each drive a share of `connections` non-blocking sockets
// with poll(). Per wake-up: issue operations on every connection that may send, one write per
// connection, poll, then one read per readable connection, parsing every complete reply in place.
//
// Closed loop (default): each connection keeps `pipeline` operations in flight; an operation's
// latency starts when it is encoded. Open loop (`rate`): each connection has a schedule of
// intended send times (rate / connections per second, phase-shifted); an operation is sent at
// its intended time if the connection has fewer than `pipeline` in flight, otherwise it waits,
// and its latency is measured from the intended time, so server stalls show up as queueing
// instead of being hidden (no coordinated omission).
//
// An operation with follow-up commands (OperationGenerator.observeLastReply) stays in flight
// over its round trips: the follow-ups go out with the connection's next write, the operation
// moves to the back of the connection's queue (replies come in send order), and it counts once,
// from its start to its last reply.
//
// Only operations that start at or after the warm-up and finish before the end are counted.
// Client CPU (getrusage) and the server's CPU (/proc) are sampled at the same two instants.

public struct LoadPlan: Sendable {
    public var host: String
    public var port: Int
    public var connections = 50
    public var threads = 1
    public var pipeline = 1
    /// Seconds of measurement (after warm-up). nil with `requests` set: run until done.
    public var duration: Double? = 10
    /// Total operations to complete (split evenly over connections); nil: time-bound.
    public var requests: Int? = nil
    public var warmup: Double = 1
    /// Open loop: total intended operations per second across all connections.
    public var rate: Double? = nil
    public var seed: UInt64 = 1
    /// Hard cap on the whole run, whatever the other settings say.
    public var maxSeconds: Double = 3600
    public var serverPID: Int32? = nil

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }
}

/// What one run measured.
public struct LoadOutcome: Sendable {
    public var operationNames: [String]
    public var histograms: [Histogram]
    public var counts: [Int]
    public var errors: [Int]
    public var empties: [Int]
    /// Commands of the counted operations.
    public var commands: Int
    public var seconds: Double
    public var clientCPUSeconds: Double
    public var serverCPUSeconds: Double?
    public var errorSamples: [String]
    public var threads: Int

    public var totalOps: Int { counts.reduce(0, +) }
    public var totalErrors: Int { errors.reduce(0, +) }
    public var opsPerSecond: Double { seconds > 0 ? Double(totalOps) / seconds : 0 }
    /// Client CPU / (wall time x threads).
    public var clientUtilization: Double { seconds > 0 ? clientCPUSeconds / (seconds * Double(threads)) : 0 }
    public var overall: Histogram {
        var all = Histogram()
        for h in histograms { all.merge(h) }
        return all
    }
}

public typealias ProgressCallback = (_ elapsed: Double, _ total: Double?, _ completedOps: Int) -> Void

public enum LoadEngine {
    /// Runs `workload` against the server in `plan`. `stop` ends the run early (expiry traffic).
    public static func run<W: Workload>(_ workload: W, plan: LoadPlan, stop: StopFlag? = nil,
                                        progress: ProgressCallback? = nil) throws -> LoadOutcome {
        let connections = max(1, plan.connections)
        let threads = max(1, min(plan.threads, connections))
        var fds: [Int32] = []
        fds.reserveCapacity(connections)
        do {
            for _ in 0..<connections { fds.append(try Sys.connect(host: plan.host, port: plan.port)) }
        } catch {
            for fd in fds { Sys.close(fd) }
            throw error
        }

        let requestMode = plan.requests != nil && plan.duration == nil
        let warmup = requestMode ? 0 : max(0, plan.warmup)
        let start = monotonicNanos() + 2_000_000
        let measureStart = start + UInt64(warmup * 1e9)
        let hardEnd = start + UInt64(max(0.001, plan.maxSeconds) * 1e9)
        let end: UInt64 = requestMode ? hardEnd : min(hardEnd, measureStart + UInt64(max(0.001, plan.duration ?? 10) * 1e9))
        let stopFlag = stop ?? StopFlag()

        var perConnectionBudget: [Int] = Array(repeating: Int.max, count: connections)
        if let requests = plan.requests {
            for c in 0..<connections { perConnectionBudget[c] = requests / connections + (c < requests % connections ? 1 : 0) }
        }

        let counters = (0..<threads).map { _ in SharedCounter() }
        let finished = SharedCounter()
        let boxes = (0..<threads).map { _ in ResultBox<WorkerOutput>() }
        var workers: [WorkerThread] = []
        for t in 0..<threads {
            let lower = t * connections / threads
            let upper = (t + 1) * connections / threads
            let settings = WorkerSettings(
                fds: Array(fds[lower..<upper]), budgets: Array(perConnectionBudget[lower..<upper]),
                firstConnectionIndex: lower, totalConnections: connections,
                pipeline: max(1, plan.pipeline), rate: plan.rate, start: start, measureStart: measureStart, end: end,
                seed: plan.seed &+ UInt64(t) &* 0x9E37_79B9)
            let counter = counters[t]
            let box = boxes[t]
            do {
                let thread = try WorkerThread {
                    var generator = workload.makeGenerator(worker: t, seed: settings.seed)
                    let output = runWorker(settings, generator: &generator, typeCount: workload.operationNames.count,
                                           counter: counter, stop: stopFlag)
                    box.store(output)
                    finished.increment()
                }
                workers.append(thread)
            } catch {
                stopFlag.raise()
                for w in workers { w.join() }
                for fd in fds[lower...] { Sys.close(fd) }
                throw error
            }
        }

        // Coordinator: sample CPU at the window's edges, report progress meanwhile.
        let totalSeconds: Double? = requestMode ? nil : Double(end - measureStart) / 1e9
        var now = monotonicNanos()
        while now < measureStart && finished.load() < threads {
            sleepNanos(min(measureStart - now, 50_000_000))
            now = monotonicNanos()
        }
        let clientBefore = Sys.processCPUSeconds()
        let serverBefore = plan.serverPID.flatMap { ProcStats.cpuSeconds(pid: $0) }
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
        let serverAfter = plan.serverPID.flatMap { ProcStats.cpuSeconds(pid: $0) }
        for w in workers { w.join() }

        var outcome = LoadOutcome(
            operationNames: workload.operationNames,
            histograms: Array(repeating: Histogram(), count: workload.operationNames.count),
            counts: Array(repeating: 0, count: workload.operationNames.count),
            errors: Array(repeating: 0, count: workload.operationNames.count),
            empties: Array(repeating: 0, count: workload.operationNames.count),
            commands: 0, seconds: Double(windowEnd - max(windowStart, measureStart)) / 1e9,
            clientCPUSeconds: clientAfter - clientBefore,
            serverCPUSeconds: serverBefore.flatMap { b in serverAfter.map { $0 - b } },
            errorSamples: [], threads: threads)
        for box in boxes {
            guard let output = box.take() else { continue }
            for i in 0..<output.counts.count {
                outcome.histograms[i].merge(output.histograms[i])
                outcome.counts[i] += output.counts[i]
                outcome.errors[i] += output.errors[i]
                outcome.empties[i] += output.empties[i]
            }
            outcome.commands += output.commands
            for sample in output.errorSamples where outcome.errorSamples.count < 5 { outcome.errorSamples.append(sample) }
        }
        if requestMode {
            outcome.seconds = Double(windowEnd - measureStart) / 1e9
        }
        return outcome
    }
}

struct WorkerSettings: Sendable {
    var fds: [Int32]
    var budgets: [Int]
    var firstConnectionIndex: Int
    var totalConnections: Int
    var pipeline: Int
    var rate: Double?
    var start: UInt64
    var measureStart: UInt64
    var end: UInt64
    var seed: UInt64
}

struct WorkerOutput: Sendable {
    var histograms: [Histogram]
    var counts: [Int]
    var errors: [Int]
    var empties: [Int]
    var commands: Int
    var errorSamples: [String]
}

/// One operation in flight on a connection.
struct InFlight {
    var start: UInt64 = 0
    var type: Int32 = 0
    var remaining: Int32 = 0
    var replyIndex: Int32 = 0
    var commands: Int32 = 0
    var error = false
    var empty = false
}

/// Per-connection state, owned by one worker thread.
final class LoadConnection {
    let fd: Int32
    var output = CommandBuffer(capacity: 16 * 1024)
    var input: UnsafeMutableRawBufferPointer
    var inputStart = 0
    var inputEnd = 0
    var ring: [InFlight]
    var head = 0
    var inFlight = 0
    var budget: Int
    var nextSend: UInt64 = 0
    var interval: UInt64 = 0
    var dead = false
    var wantsWrite = false

    init(fd: Int32, pipeline: Int, budget: Int) {
        self.fd = fd
        self.budget = budget
        input = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
        ring = Array(repeating: InFlight(), count: pipeline)
    }

    deinit {
        input.deallocate()
        Sys.close(fd)
    }

    /// Makes room at the end of the input buffer (compacting or doubling). False past 64 MiB.
    func reserveInput() -> Bool {
        if inputStart == inputEnd { inputStart = 0; inputEnd = 0 }
        if inputEnd < input.count { return true }
        if inputStart > 0 {
            let live = inputEnd - inputStart
            memmove(input.baseAddress!, input.baseAddress! + inputStart, live)
            inputStart = 0
            inputEnd = live
            return true
        }
        guard input.count < 64 * 1024 * 1024 else { return false }
        let bigger = UnsafeMutableRawBufferPointer.allocate(byteCount: input.count * 2, alignment: 16)
        bigger.baseAddress!.copyMemory(from: input.baseAddress!, byteCount: inputEnd)
        input.deallocate()
        input = bigger
        return true
    }
}

func runWorker<G: OperationGenerator>(_ settings: WorkerSettings, generator: inout G, typeCount: Int,
                                      counter: SharedCounter, stop: StopFlag) -> WorkerOutput {
    var out = WorkerOutput(
        histograms: Array(repeating: Histogram(), count: typeCount), counts: Array(repeating: 0, count: typeCount),
        errors: Array(repeating: 0, count: typeCount), empties: Array(repeating: 0, count: typeCount),
        commands: 0, errorSamples: [])
    let connections = settings.fds.indices.map {
        LoadConnection(fd: settings.fds[$0], pipeline: settings.pipeline, budget: settings.budgets[$0])
    }
    let count = connections.count
    let parser = RESPReplyParser()
    let pollfds = UnsafeMutablePointer<pollfd>.allocate(capacity: max(1, count))
    defer { pollfds.deallocate() }
    for i in 0..<count { pollfds[i] = pollfd(fd: connections[i].fd, events: Int16(POLLIN), revents: 0) }

    if let rate = settings.rate, rate > 0 {
        // Each connection sends rate/connections per second; phases spread evenly.
        let interval = UInt64(Double(settings.totalConnections) / rate * 1e9)
        for (i, c) in connections.enumerated() {
            c.interval = max(1, interval)
            c.nextSend = settings.start + UInt64(Double(settings.firstConnectionIndex + i) / rate * 1e9)
        }
    }
    let openLoop = settings.rate != nil
    let pipeline = settings.pipeline
    let measureStart = settings.measureStart
    var end = settings.end
    var completed = 0
    var live = count
    var draining = false

    func fail(_ c: LoadConnection, _ index: Int, _ message: String) {
        guard !c.dead else { return }
        c.dead = true
        live -= 1
        pollfds[index].fd = -1
        // Operations in flight on a dead connection are errors.
        if c.inFlight > 0 {
            let op = c.ring[c.head]
            out.errors[Int(op.type)] += c.inFlight
        }
        c.inFlight = 0
        if out.errorSamples.count < 5 { out.errorSamples.append(message) }
    }

    func flush(_ c: LoadConnection, _ index: Int) {
        guard !c.output.isEmpty else { c.wantsWrite = false; return }
        let result = c.output.bytes.withUnsafeBytes { Sys.write(c.fd, $0.baseAddress!, $0.count) }
        switch result {
        case .done(let n):
            c.output.removeFirst(n)
            c.wantsWrite = !c.output.isEmpty
        case .wouldBlock:
            c.wantsWrite = true
        case .endOfFile:
            fail(c, index, "connection closed while writing")
        case .failed(let code):
            fail(c, index, "write: \(errnoText(code))")
        }
    }

    func issue(_ c: LoadConnection, start: UInt64) {
        let (type, replies) = generator.encodeNext(into: &c.output)
        let slot = (c.head + c.inFlight) % pipeline
        c.ring[slot] = InFlight(start: start, type: Int32(type), remaining: Int32(replies), replyIndex: 0,
                                commands: Int32(replies), error: false, empty: false)
        c.inFlight += 1
        c.budget -= 1
    }

    /// Parses every complete reply in the input buffer.
    func processReplies(_ c: LoadConnection, _ index: Int, now: UInt64) {
        while c.inputStart < c.inputEnd {
            let summary: ReplySummary?
            do {
                summary = try parser.scan(UnsafeRawBufferPointer(start: c.input.baseAddress! + c.inputStart, count: c.inputEnd - c.inputStart))
            } catch {
                fail(c, index, "malformed reply: \(error)")
                return
            }
            guard let summary else { break }
            guard c.inFlight > 0 else {
                fail(c, index, "reply with no request outstanding")
                return
            }
            if summary.isError {
                c.ring[c.head].error = true
                if out.errorSamples.count < 5 {
                    let text = UnsafeRawBufferPointer(start: c.input.baseAddress! + c.inputStart + 1, count: max(0, summary.length - 3))
                    out.errorSamples.append(String(decoding: text, as: UTF8.self))
                }
            }
            if c.ring[c.head].replyIndex == 0 && summary.isEmpty { c.ring[c.head].empty = true }
            var followUpReplies = 0
            if c.ring[c.head].remaining == 1 {
                followUpReplies = generator.observeLastReply(
                    type: Int(c.ring[c.head].type),
                    UnsafeRawBufferPointer(start: c.input.baseAddress! + c.inputStart, count: summary.length),
                    followUp: &c.output)
            }
            c.ring[c.head].replyIndex += 1
            c.ring[c.head].remaining -= 1
            if followUpReplies > 0 {
                // Another round trip: the follow-up commands (already in c.output, sent with
                // the next write) are answered after every operation sent before them, so the
                // operation moves from the head of the ring to its tail, keeping its start.
                var op = c.ring[c.head]
                op.remaining = Int32(followUpReplies)
                op.commands += Int32(followUpReplies)
                c.head = (c.head + 1) % pipeline
                c.ring[(c.head + c.inFlight - 1) % pipeline] = op
            } else if c.ring[c.head].remaining <= 0 {
                let op = c.ring[c.head]
                if op.start >= measureStart && now <= settings.end {
                    let t = Int(op.type)
                    out.histograms[t].record(now &- op.start)
                    out.counts[t] += 1
                    if op.error { out.errors[t] += 1 }
                    if op.empty { out.empties[t] += 1 }
                    out.commands += Int(op.commands)
                    completed += 1
                }
                c.head = (c.head + 1) % pipeline
                c.inFlight -= 1
            }
            c.inputStart += summary.length
        }
        if c.inputStart == c.inputEnd { c.inputStart = 0; c.inputEnd = 0 }
    }

    func readAvailable(_ c: LoadConnection, _ index: Int) {
        for _ in 0..<16 {
            guard c.reserveInput() else { fail(c, index, "reply larger than 64 MiB"); return }
            let space = c.input.count - c.inputEnd
            switch Sys.read(c.fd, c.input.baseAddress! + c.inputEnd, space) {
            case .done(let n):
                c.inputEnd += n
                processReplies(c, index, now: monotonicNanos())
                if c.dead || n < space { return }
            case .wouldBlock:
                return
            case .endOfFile:
                fail(c, index, "connection closed by server")
                return
            case .failed(let code):
                fail(c, index, "read: \(errnoText(code))")
                return
            }
        }
    }

    // Wait for the common start instant so all threads begin together.
    var now = monotonicNanos()
    if now < settings.start { sleepNanos(settings.start - now) }

    var iterations = 0
    let maxIterations = 2_000_000_000
    while iterations < maxIterations {
        iterations += 1
        now = monotonicNanos()
        if !draining && (now >= end || stop.isRaised) {
            // Stop issuing; give in-flight operations up to 1 s to finish so the next run
            // starts against a quiet server.
            draining = true
            end = now + 1_000_000_000
        }
        if draining && (now >= end) { break }
        if live == 0 { break }

        // Issue.
        var nextDue = UInt64.max
        var anyInFlight = false
        for i in 0..<count {
            let c = connections[i]
            if c.dead { continue }
            if !draining {
                if openLoop {
                    while c.inFlight < pipeline && c.budget > 0 && c.nextSend <= now {
                        issue(c, start: c.nextSend)
                        c.nextSend &+= c.interval
                    }
                    if c.inFlight < pipeline && c.budget > 0 && c.nextSend < nextDue { nextDue = c.nextSend }
                } else {
                    if c.inFlight < pipeline && c.budget > 0 {
                        let t = monotonicNanos()
                        while c.inFlight < pipeline && c.budget > 0 { issue(c, start: t) }
                    }
                }
            }
            if !c.output.isEmpty { flush(c, i) }
            if c.inFlight > 0 { anyInFlight = true }
            pollfds[i].events = Int16(POLLIN) | (c.wantsWrite ? Int16(POLLOUT) : 0)
        }
        if !anyInFlight && (draining || connections.allSatisfy { $0.dead || $0.budget <= 0 }) { break }

        // Wait.
        now = monotonicNanos()
        var timeout: Int32 = 100
        let deadline = min(end, nextDue)
        if deadline <= now {
            timeout = 0
        } else {
            // poll() may oversleep by the timer slack: aim 0.2 ms early, select() does the rest.
            let wait = deadline - now
            timeout = Int32(min(100, wait > 1_200_000 ? (wait - 200_000) / 1_000_000 : 0))
        }
        var ready = Sys.poll(pollfds, count, timeout)
        if ready == 0 && openLoop && !draining && nextDue != .max {
            // Less than a millisecond until the next intended send, which poll() cannot wait
            // for: wait with select()'s microsecond timeout (still waking for replies).
            now = monotonicNanos()
            if nextDue > now {
                let micros = Int(min(nextDue - now, 1_000_000) / 1000)
                if Sys.waitReadable(pollfds, count, micros: micros) < 0 { sleepNanos(min(nextDue - now, 50_000)) }
            }
            ready = Sys.poll(pollfds, count, 0)
        }
        if ready < 0 { break }
        if ready > 0 {
            for i in 0..<count where pollfds[i].revents != 0 {
                let c = connections[i]
                let revents = pollfds[i].revents
                pollfds[i].revents = 0
                if c.dead { continue }
                if revents & Int16(POLLOUT) != 0 { flush(c, i) }
                if revents & Int16(POLLIN | POLLERR | POLLHUP) != 0 { readAvailable(c, i) }
            }
        }
        counter.store(completed)
    }
    counter.store(completed)
    return out
}
