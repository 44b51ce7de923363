// Sesame as a test fixture (what miniredis is for Go): start a server in-process on an
// ephemeral port in milliseconds, move its clock instead of sleeping, read and write its data
// without a client, inject errors and disconnects. Every server is independent (no global
// state), so tests can run in parallel with one server each.
//
// Direct data access runs real commands through the same dispatcher a client would hit, so a
// fixture can never disagree with the wire about semantics.

import Synchronization

public struct FixtureError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public var description: String { message }
}

extension ManualClock {
    public func advance(by duration: Duration) {
        let (seconds, attoseconds) = duration.components
        advance(milliseconds: seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }
}

extension SesameServer {
    /// Starts a server for a test: 127.0.0.1, an ephemeral port, one event loop, and a manual
    /// clock starting at the current time (TTLs only pass when the test advances it).
    public static func start(threads: Int = 1, requirePass: String? = nil,
                             clock: ManualClock = ManualClock(startingAt: SystemClock().nowMilliseconds()),
                             configure: (inout Configuration) -> Void = { _ in }) throws -> SesameServer {
        var config = Configuration(port: 0, threads: threads)
        config.bindAddresses = ["127.0.0.1"]
        config.logLevel = .warning
        config.requirePass = requirePass
        configure(&config)
        let server = SesameServer(configuration: config, clock: clock)
        try server.start()
        return server
    }

    /// The manual clock, when the server was started with one (always, via `start()`).
    public var clock: ManualClock {
        guard let c = state.keyspace.clock as? ManualClock else {
            preconditionFailure("this server runs on the system clock; start it with SesameServer.start() or a ManualClock")
        }
        return c
    }

    /// Moves the clock forward and runs active expiry at once, so keys past their deadline are
    /// gone (and counted as expired) when this returns, not one event-loop tick later.
    public func advanceTime(by duration: Duration) {
        clock.advance(by: duration)
        expireNow()
    }

    /// Runs active expiry on every shard now, without a budget.
    public func expireNow() {
        while state.keyspace.expireCycle(first: 0, stride: 1, budget: Int.max) {}
    }

    // MARK: - Commands without a client

    /// Runs one command as a client on database `db` would, and returns its decoded reply
    /// (errors come back as `.error`).
    @discardableResult
    public func execute(db: Int = 0, _ arguments: [[UInt8]]) -> RESPValue {
        let client = Client(id: 0, server: state, output: ByteBuffer(capacity: 256))
        client.authenticated = true
        client.db = db
        OwnedArguments(arguments).withArguments { Dispatcher.execute(client, $0) }
        let bytes = client.output.readableArray
        var i = 0
        return RESPValue.decode(bytes, &i) ?? .error("ERR undecodable reply")
    }

    @discardableResult
    public func execute(db: Int = 0, _ arguments: String...) -> RESPValue {
        execute(db: db, arguments.map { Array($0.utf8) })
    }

    /// Like `execute`, but an error reply throws.
    @discardableResult
    public func command(db: Int = 0, _ arguments: [String]) throws -> RESPValue {
        let reply = execute(db: db, arguments.map { Array($0.utf8) })
        if case .error(let m) = reply { throw FixtureError(message: m) }
        return reply
    }

    public func set(_ key: String, _ value: String, ttl: Duration? = nil, db: Int = 0) throws {
        var args = ["SET", key, value]
        if let ttl {
            let (s, a) = ttl.components
            args += ["PX", String(s * 1000 + a / 1_000_000_000_000_000)]
        }
        try command(db: db, args)
    }

    public func get(_ key: String, db: Int = 0) throws -> String? {
        try command(db: db, ["GET", key]).string
    }

    public func hset(_ key: String, _ fields: [String: String], db: Int = 0) throws {
        guard !fields.isEmpty else { return }
        try command(db: db, ["HSET", key] + fields.sorted { $0.key < $1.key }.flatMap { [$0.key, $0.value] })
    }

    public func hgetAll(_ key: String, db: Int = 0) throws -> [String: String] {
        guard case .array(let items) = try command(db: db, ["HGETALL", key]) else { return [:] }
        var out: [String: String] = [:]
        for i in stride(from: 0, to: items.count - 1, by: 2) {
            out[items[i].string ?? ""] = items[i + 1].string ?? ""
        }
        return out
    }

    public func sadd(_ key: String, _ members: [String], db: Int = 0) throws {
        guard !members.isEmpty else { return }
        try command(db: db, ["SADD", key] + members)
    }

    public func smembers(_ key: String, db: Int = 0) throws -> Set<String> {
        guard case .array(let items) = try command(db: db, ["SMEMBERS", key]) else { return [] }
        return Set(items.compactMap(\.string))
    }

    public func exists(_ key: String, db: Int = 0) throws -> Bool {
        try command(db: db, ["EXISTS", key]) == .integer(1)
    }

    /// The key's remaining time to live, nil when it has none or does not exist.
    public func ttl(_ key: String, db: Int = 0) throws -> Duration? {
        guard case .integer(let ms) = try command(db: db, ["PTTL", key]), ms >= 0 else { return nil }
        return .milliseconds(ms)
    }

    @discardableResult
    public func del(_ keys: String..., db: Int = 0) throws -> Int {
        guard case .integer(let n) = try command(db: db, ["DEL"] + keys) else { return 0 }
        return n
    }

    public func flushAll() { state.keyspace.flush(db: nil) }

    // MARK: - Cluster check

    /// Refuse, as Redis Cluster would, every request whose keys hash to different slots
    /// (`-CROSSSLOT`) and SELECT / SWAPDB / COPY ... DB of a database other than 0, while the
    /// server stays standalone: a test suite run this way catches code that would break on
    /// Redis Cluster. Same as `--cluster-check yes` or `CONFIG SET cluster-check yes`.
    public var clusterCheck: Bool {
        get { state.cluster.checkEnabled }
        set { state.cluster.setCheck(newValue) }
    }

    // MARK: - Fault injection

    /// The next `count` commands from any client (or the fixture) get `-<message>` instead of
    /// running: for testing a client's retry and error handling.
    public func failNext(_ count: Int, with message: String = "ERR injected failure") {
        state.injectFailures(count, message: message)
    }
}
