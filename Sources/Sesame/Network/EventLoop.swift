// An event loop: one thread, one epoll set, the connections it accepted. Phases of one turn:
//   1. epoll_wait, with a timeout no longer than the next timer-wheel tick;
//   2. for each readable connection: read into its buffer, parse and run every complete
//      command (run to completion on this thread, locking only the shards each touches), then
//      one send of everything queued for it;
//   3. accept on the shared listening sockets (EPOLLEXCLUSIVE: one loop wakes per connection);
//   4. housekeeping: active expiry for this loop's share of shards, within a time budget.
// Back-pressure: a client whose pending output passes the soft limit stops being read until
// it drains; past the hard limit it is closed. Nothing a client does can block the loop.

#if canImport(Glibc)
import Glibc
#endif
import CSystem
import Synchronization

final class EventLoop: @unchecked Sendable {
    let index: Int
    let loopCount: Int
    let server: ServerState
    let stats: LoopStats
    private let epfd: Int32
    private let wakeFD: Int32
    private let listenFDs: [Int32]
    /// Indexed by fd. Only this loop's thread reads or writes it.
    private var connections: [Connection?] = []
    private var connectionCount = 0
    private var nextTag: UInt32 = 1
    let running = Atomic<Bool>(true)
    private var thread: pthread_t? = nil
    private let log: Logger
    /// appendfsync always: connections whose replies wait for this turn's fsync (group commit),
    /// and whether each saw EOF.
    private var awaitingSync: [(conn: Connection, eof: Bool)] = []

    private static let wakeTag: UInt64 = UInt64(UInt32.max) << 32
    private static let listenTagBase: UInt64 = (UInt64(UInt32.max) - 1) << 32

    init(index: Int, loopCount: Int, server: ServerState, listenFDs: [Int32], log: Logger) throws {
        self.index = index
        self.loopCount = loopCount
        self.server = server
        self.stats = server.loopStats[index]
        self.listenFDs = listenFDs
        self.log = log
        epfd = try Sys.epollCreate()
        wakeFD = try Sys.eventFD()
        try Sys.epollControl(epfd, EPOLL_CTL_ADD, wakeFD, events: EPOLLIN.rawValue, data: EventLoop.wakeTag)
        server.pubsub.mailboxes[index].wakeFD.store(wakeFD, ordering: .releasing)
        for (i, fd) in listenFDs.enumerated() {
            try Sys.epollControl(epfd, EPOLL_CTL_ADD, fd, events: EPOLLIN.rawValue | EPOLLEXCLUSIVE.rawValue,
                                 data: EventLoop.listenTagBase | UInt64(i))
        }
    }

    deinit {
        Sys.close(epfd)
        Sys.close(wakeFD)
    }

    // MARK: - Thread

    func start() throws {
        thread = try Sys.startThread { self.run() }
    }

    /// Asks the loop to finish its turn and exit; `join` waits for it.
    func requestStop() {
        running.store(false, ordering: .releasing)
        Sys.signalEventFD(wakeFD)
    }

    func join() {
        if let t = thread { pthread_join(t, nil); thread = nil }
    }

    /// Closes every connection (for tests simulating a restart): runs on the loop's thread.
    let dropRequested = Atomic<Bool>(false)
    func requestDropConnections() {
        dropRequested.store(true, ordering: .releasing)
        Sys.signalEventFD(wakeFD)
    }

    // MARK: - The loop

    private func run() {
        let maxEvents: Int32 = 256
        let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: Int(maxEvents))
        defer { events.deallocate() }
        let tick = server.configuration.expiryTickMilliseconds
        var expiryPending = false
        /// Where the last expiry cycle stopped among this loop's shards (it is time-limited).
        var expiryCursor = 0
        var nextExpiryAt: UInt64 = 0
        var nextIdleCheckAt: UInt64 = 0
        while running.load(ordering: .acquiring) {
            let timeout: Int32 = expiryPending ? 0 : Int32(tick)
            let n: Int
            do {
                n = try Sys.epollWait(epfd, events, maxEvents, timeoutMs: timeout)
            } catch {
                log.warning("event loop \(index): \(error)")
                continue
            }
            let startNs = n > 0 || expiryPending ? monotonicNanoseconds() : 0
            // With client tracking on, invalidations posted before a client's next command was
            // sent reach it before that command's reply (Redis writes them synchronously).
            if server.tracking.active.load(ordering: .relaxed) != 0 { deliverMail() }
            for i in 0..<n {
                let ev = events[i]
                let data = ev.data.u64
                if data == EventLoop.wakeTag {
                    Sys.drainEventFD(wakeFD)
                    if dropRequested.exchange(false, ordering: .acquiring) { closeAll() }
                    continue
                }
                if data >= EventLoop.listenTagBase && data < EventLoop.wakeTag {
                    acceptConnections(listenFDs[Int(data & 0xFFFF_FFFF)])
                    continue
                }
                let fd = Int32(truncatingIfNeeded: data & 0xFFFF_FFFF)
                let tag = UInt32(truncatingIfNeeded: data >> 32)
                guard Int(fd) < connections.count, let conn = connections[Int(fd)], conn.tag == tag else { continue }
                handle(conn, events: ev.events)
            }
            if !awaitingSync.isEmpty { releaseAfterSync() } else { server.aof.loopTurnEnded() }
            deliverMail()
            // Housekeeping: active expiry once per tick (or straight away while work is due).
            let nowNs = monotonicNanoseconds()
            if nowNs >= nextIdleCheckAt {
                nextIdleCheckAt = nowNs + 1_000_000_000
                closeIdleClients()
            }
            var endNs = nowNs
            if expiryPending || nowNs >= nextExpiryAt {
                nextExpiryAt = nowNs + UInt64(tick) * 1_000_000
                expiryPending = server.keyspace.expireCycle(first: index, stride: loopCount,
                                                            budget: server.configuration.expiryBudgetPerTurn,
                                                            cursor: &expiryCursor, timeLimitNanoseconds: 500_000)
                endNs = monotonicNanoseconds()
                let expiryUs = Int((endNs - nowNs) / 1000)
                if expiryUs > stats.expiryDurationMax.load(ordering: .relaxed) {
                    stats.expiryDurationMax.store(expiryUs, ordering: .relaxed)  // only this loop writes it
                }
            }
            if startNs != 0 || endNs != nowNs {
                recordIteration(microseconds: Int((endNs - (startNs != 0 ? startNs : nowNs)) / 1000))
            }
        }
        closeAll()
    }

    private func recordIteration(microseconds us: Int) {
        stats.eventloopCycles.wrappingAdd(1, ordering: .relaxed)
        stats.eventloopDurationSum.wrappingAdd(us, ordering: .relaxed)
        if us > stats.eventloopDurationMax.load(ordering: .relaxed) {
            stats.eventloopDurationMax.store(us, ordering: .relaxed)  // only this loop writes it
        }
    }

    /// Pub/Sub messages posted by any thread for this loop's connections.
    private func deliverMail() {
        let mail = server.pubsub.mailboxes[index].take()
        if mail.isEmpty { return }
        var touched: [Connection] = []
        for d in mail {
            guard Int(d.fd) < connections.count, let conn = connections[Int(d.fd)], conn.tag == d.tag else { continue }
            if d.kill {
                // Like Redis: a killed client's pending replies are not sent.
                close(conn)
                continue
            }
            if conn.output.isEmpty { touched.append(conn) }
            conn.output.append(d.bytes)
        }
        for conn in touched where !conn.closed { flush(conn) }
    }

    private func closeAll() {
        for case let conn? in connections { close(conn) }
    }

    // MARK: - Accept

    private func acceptConnections(_ listenFD: Int32) {
        // A bounded batch per wake-up keeps one loop from starving its own clients.
        for _ in 0..<64 {
            let accepted: (Int32, String)?
            do { accepted = try Sys.accept(listenFD) } catch {
                log.warning("accept: \(error)")
                return
            }
            guard let (fd, peer) = accepted else { return }
            if server.connectedClients.load(ordering: .relaxed) >= server.configuration.maxClients {
                let msg: StaticString = "-ERR max number of clients reached\r\n"
                _ = try? Sys.send(fd, msg.utf8Start, msg.utf8CodeUnitCount)
                Sys.close(fd)
                server.rejectedConnections.wrappingAdd(1, ordering: .relaxed)
                continue
            }
            if server.configuration.protectedMode && server.configuration.requirePass == nil && !isLoopback(peer) {
                _ = try? Sys.send(fd, EventLoop.deniedMessage.utf8Start, EventLoop.deniedMessage.utf8CodeUnitCount)
                Sys.close(fd)
                continue
            }
            register(fd: fd, peer: peer)
        }
    }

    /// Redis's protected-mode refusal, byte for byte.
    static let deniedMessage: StaticString = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n"

    /// Whether a peer ("ip:port" or "[ip6]:port", as Sys.accept describes it) is loopback.
    private func isLoopback(_ peer: String) -> Bool {
        peer.hasPrefix("127.") || peer.hasPrefix("[::1]:") || peer.hasPrefix("[::ffff:127.")
    }

    /// Closes clients idle longer than `timeout` seconds (Redis's clientsCronHandleTimeout).
    private func closeIdleClients() {
        let limit = Int64(server.configuration.idleTimeoutSeconds) * 1000
        guard limit > 0 else { return }
        let now = server.keyspace.clock.nowMilliseconds()
        for case let conn? in connections where now - conn.client.lastCommandAt > limit {
            log.verbose("Closing idle client \(conn.client.id)")
            close(conn)
        }
    }

    private func register(fd: Int32, peer: String) {
        Sys.setNoDelay(fd)
        Sys.setKeepAlive(fd, seconds: server.configuration.tcpKeepAliveSeconds)
        let id = server.nextClientID.wrappingAdd(1, ordering: .relaxed).oldValue
        let client = Client(id: id, server: server, output: ByteBuffer(capacity: Connection.initialBufferBytes), loopIndex: index,
                            batchesStats: true)
        client.fd = fd
        client.peerAddress = peer
        nextTag = nextTag &+ 1
        if nextTag == 0 || nextTag >= UInt32.max - 1 { nextTag = 1 }
        let conn = Connection(fd: fd, tag: nextTag, client: client, limits: server.configuration.limits)
        client.connectionTag = nextTag
        let record = ClientRecord(id: id, fd: fd, tag: nextTag, loop: index, address: peer, createdAt: client.createdAt)
        client.record = record
        server.clients.add(record)
        do {
            try Sys.epollControl(epfd, EPOLL_CTL_ADD, fd, events: EPOLLIN.rawValue | EPOLLRDHUP.rawValue,
                                 data: UInt64(conn.tag) << 32 | UInt64(UInt32(bitPattern: fd)))
        } catch {
            log.warning("register connection: \(error)")
            Sys.close(fd)
            return
        }
        if Int(fd) >= connections.count {
            connections.append(contentsOf: repeatElement(nil, count: Int(fd) + 1 - connections.count + 64))
        }
        connections[Int(fd)] = conn
        connectionCount += 1
        server.connectedClients.wrappingAdd(1, ordering: .relaxed)
        server.totalConnections.wrappingAdd(1, ordering: .relaxed)
        stats.connections.wrappingAdd(1, ordering: .relaxed)
    }

    private func close(_ conn: Connection) {
        guard !conn.closed else { return }
        conn.closed = true
        conn.client.connectionClosed()
        server.clients.remove(conn.client.id)
        _ = try? Sys.epollControl(epfd, EPOLL_CTL_DEL, conn.fd, events: 0, data: 0)
        Sys.close(conn.fd)
        connections[Int(conn.fd)] = nil
        connectionCount -= 1
        server.connectedClients.subtract(1, ordering: .relaxed)
        stats.connections.subtract(1, ordering: .relaxed)
    }

    // MARK: - Reading, running, writing

    private func handle(_ conn: Connection, events: UInt32) {
        if events & EPOLLOUT.rawValue != 0 {
            flush(conn)
            if conn.closed { return }
            if conn.readingPaused && conn.output.readableBytes < server.configuration.outputSoftLimit {
                resumeReading(conn)
                if conn.closed { return }
            }
        }
        if conn.readingPaused {
            // Not reading: a dead socket must still be noticed, or level-triggered HUP/ERR
            // would wake this loop forever.
            if events & (EPOLLHUP.rawValue | EPOLLERR.rawValue) != 0 { close(conn) }
            return
        }
        if events & (EPOLLIN.rawValue | EPOLLHUP.rawValue | EPOLLERR.rawValue | EPOLLRDHUP.rawValue) != 0 {
            readAndRun(conn)
        }
    }

    /// At most this much is read per readiness event: a connection whose buffer grew to
    /// megabytes (a bulk load) must not turn one wake-up into running 100,000 commands while
    /// the loop's other clients wait. Redis reads 16 KB at a time.
    static let maxReadBytes = 64 * 1024

    private func readAndRun(_ conn: Connection) {
        let input = conn.input
        var sawEOF = false
        // One read per readiness event, as Redis does (epoll is level-triggered, so what is left
        // in the socket wakes the loop again). Reading until drained let one wake-up run every
        // pipelined command of 50 busy connections, and every other client waited behind it.
        reading: for _ in 0..<1 {
            let shifted = input.reserve(conn.readSize)
            conn.parser.pointee.bufferShifted(by: shifted)
            let asked = min(input.spareCapacity, EventLoop.maxReadBytes)
            let result: IOResult
            do {
                result = try Sys.read(conn.fd, input.base + input.writerIndex, asked)
            } catch {
                close(conn)
                return
            }
            switch result {
            case .bytes(let n):
                input.writerIndex += n
                // A read that filled what it asked for: the client sends more at a time.
                if n == asked && conn.readSize < EventLoop.maxReadBytes { conn.readSize *= 2 }
                stats.netInputBytes.wrappingAdd(n, ordering: .relaxed)
                if input.spareCapacity > 0 { break reading }
            case .wouldBlock:
                break reading
            case .closed:
                sawEOF = true
                break reading
            }
        }
        runCommands(conn)
        if conn.closed { return }
        if server.aof.repliesWaitForSync {
            awaitingSync.append((conn, sawEOF))
            return
        }
        flush(conn)
        if sawEOF && !conn.closed {
            // The peer is gone: nothing more will arrive and replies cannot be read.
            close(conn)
        }
    }

    /// Runs every complete command in the input buffer.
    private func runCommands(_ conn: Connection) {
        let input = conn.input
        let client = conn.client
        let softLimit = server.configuration.outputSoftLimit
        var executed = 0
        while !client.closeAfterReply {
            if conn.output.readableBytes > softLimit {
                pauseReading(conn)
                break
            }
            // Redis's tighter request limits for clients that have not authenticated yet.
            conn.parser.pointee.authRequired = !client.authenticated
            let outcome = conn.parser.pointee.next(input)
            switch outcome {
            case .command:
                if client.replyMode == .on {
                    conn.parser.pointee.withArgumentsInPlace(input) { Dispatcher.execute(client, $0) }
                } else {
                    // CLIENT REPLY OFF / SKIP: run, then drop what the command wrote.
                    let mark = conn.output.writerIndex
                    if client.replyMode == .skipNext { client.replyMode = .skipThis }
                    conn.parser.pointee.withArgumentsInPlace(input) { Dispatcher.execute(client, $0) }
                    if client.replyMode != .on && client.replyMode != .skipNext { conn.output.writerIndex = mark }
                    if client.replyMode == .skipThis { client.replyMode = .on }
                }
                conn.parser.pointee.commandDone(input)
                executed += 1
            case .empty:
                continue
            case .needMore:
                if executed > 0 {
                    stats.commands.wrappingAdd(executed, ordering: .relaxed)
                    client.flushStats()
                    client.lastCommandAt = server.keyspace.nowMilliseconds()
                    client.refreshRecord()
                }
                if input.isEmpty && input.shrinkIfIdle(limit: 64 * 1024, to: Connection.initialBufferBytes) {
                    conn.readSize = Connection.initialBufferBytes
                }
                return
            case .protocolError(let message):
                // Redis's addReplyError prefixes "ERR " to these texts.
                client.reply.error(string: "ERR " + message)
                client.closeAfterReply = true
                input.clear()
            }
        }
        if executed > 0 {
            stats.commands.wrappingAdd(executed, ordering: .relaxed)
            client.flushStats()
        }
    }

    private func flush(_ conn: Connection) {
        let out = conn.output
        while !out.isEmpty {
            let result: IOResult
            do {
                result = try Sys.send(conn.fd, out.base + out.readerIndex, out.readableBytes)
            } catch {
                close(conn)
                return
            }
            switch result {
            case .bytes(let n):
                stats.netOutputBytes.wrappingAdd(n, ordering: .relaxed)
                out.consume(n)
                continue
            case .wouldBlock:
                if out.readableBytes > server.configuration.outputHardLimit {
                    log.verbose("closing client \(conn.client.id): output buffer over the hard limit")
                    close(conn)
                    return
                }
                setWritableInterest(conn, true)
                return
            case .closed:
                close(conn)
                return
            }
        }
        out.shrinkIfIdle(limit: 64 * 1024, to: Connection.initialBufferBytes)
        if conn.waitingForWritable { setWritableInterest(conn, false) }
        if conn.client.closeAfterReply { close(conn) }
    }

    private func updateInterest(_ conn: Connection) {
        var events: UInt32 = 0
        if !conn.readingPaused { events |= EPOLLIN.rawValue | EPOLLRDHUP.rawValue }
        if conn.waitingForWritable { events |= EPOLLOUT.rawValue }
        do {
            try Sys.epollControl(epfd, EPOLL_CTL_MOD, conn.fd, events: events,
                                 data: UInt64(conn.tag) << 32 | UInt64(UInt32(bitPattern: conn.fd)))
        } catch {
            close(conn)
        }
    }

    private func setWritableInterest(_ conn: Connection, _ on: Bool) {
        guard conn.waitingForWritable != on else { return }
        conn.waitingForWritable = on
        updateInterest(conn)
    }

    private func pauseReading(_ conn: Connection) {
        guard !conn.readingPaused else { return }
        conn.readingPaused = true
        updateInterest(conn)
    }

    private func resumeReading(_ conn: Connection) {
        conn.readingPaused = false
        updateInterest(conn)
        // Commands that were already buffered run now; new bytes arrive via EPOLLIN.
        runCommands(conn)
        if conn.closed { return }
        if server.aof.repliesWaitForSync { awaitingSync.append((conn, false)) } else { flush(conn) }
    }

    /// appendfsync always: one write + fsync for every record of this turn, then the replies.
    /// If the records could not be made durable, a client that wrote gets no acknowledgement:
    /// its replies are dropped and its connection closed (later writes answer -MISCONF).
    private func releaseAfterSync() {
        let durable = server.aof.syncForReplies()
        for (conn, eof) in awaitingSync where !conn.closed {
            if !durable && conn.client.aofPending {
                log.warning("Closing client \(conn.client.id): its writes could not be fsynced to the AOF")
                conn.output.clear()
                close(conn)
                continue
            }
            conn.client.aofPending = false
            flush(conn)
            if eof && !conn.closed { close(conn) }
        }
        awaitingSync.removeAll(keepingCapacity: true)
    }
}
