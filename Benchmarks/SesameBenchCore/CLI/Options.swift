// Command-line options: `sesame-bench <ops|session|load|expiry> [options]`. Parsed by hand
// (no package dependencies); `--flag value` and `--flag=value` both work.

public struct ServerTarget: Sendable, Codable, Equatable {
    public var name: String
    public var host: String
    public var port: Int
    public var pid: Int32?

    public init(name: String, host: String, port: Int, pid: Int32? = nil) {
        self.name = name; self.host = host; self.port = port; self.pid = pid
    }

    public var address: String { "\(host):\(port)" }

    /// "name=host:port", "host:port", ":port" or "port".
    public static func parse(_ text: String) throws -> ServerTarget {
        var name: String?
        var address = Substring(text)
        if let eq = text.firstIndex(of: "=") {
            name = String(text[..<eq])
            address = text[text.index(after: eq)...]
        }
        var host = "127.0.0.1"
        var portText = address
        if let colon = address.lastIndex(of: ":") {
            let h = address[..<colon]
            if !h.isEmpty { host = String(h) }
            portText = address[address.index(after: colon)...]
        }
        guard let port = Int(portText), (1...65535).contains(port) else {
            throw BenchError("bad --server '\(text)': expected [name=]host:port")
        }
        _ = try Sys.loopbackAddress(host)
        return ServerTarget(name: name ?? "\(host):\(port)", host: host, port: port)
    }
}

public enum WorkloadKind: String, Sendable, Codable, CaseIterable {
    case ops, session, load, expiry, migrate
}

public enum OutputFormat: String, Sendable, Codable {
    case markdown, plain
}

public struct BenchOptions: Sendable {
    public var workload: WorkloadKind = .session
    public var servers: [ServerTarget] = []
    public var rounds = 3
    public var connections = 50
    public var threads = 1
    public var pipeline = 1
    public var duration: Double? = nil
    public var requests: Int? = nil
    public var warmup = 1.0
    public var rate: Double? = nil
    public var format: OutputFormat = .markdown
    public var jsonPath: String? = nil
    public var svgPath: String? = nil
    public var seed: UInt64? = nil
    /// nil: show the progress line when stderr is a terminal.
    public var progress: Bool? = nil
    public var quiet = false
    /// `--cluster`: the servers are seeds of one Redis Cluster; route by slot (Cluster/).
    public var cluster = false
    /// `migrate --from host:port`: the standalone server whose data is copied into the cluster.
    public var migrateFrom: ServerTarget? = nil

    // ops
    public var families: [CommandFamily] = CommandFamily.defaults
    public var keys: Int? = nil
    public var valueSize = 32
    public var fields = 10

    // session / load
    public var session = SessionSettings()
    public var sessionsGiven = false
    public var flush = false
    public var preload = true

    // expiry
    public var expireIn = 3.0
    public var expiryTimeout = 60.0

    public init() {}

    /// Measurement seconds per run: `--duration`, else 10 unless `--requests` bounds the run.
    public var effectiveDuration: Double? { duration ?? (requests == nil ? 10 : nil) }

    public static let usage = """
    sesame-bench: RESP server benchmark harness (same workload against several servers, in rounds)

    USAGE: sesame-bench <ops|session|load|expiry|migrate> [options]
           sesame-bench noise [--duration S]   (no server: how long this CPU is taken from a
                                                thread that only reads the clock)

    Workloads:
      ops       one command family at a time (--ops ping,set,get,hset,hgetall,expire,sadd,srem)
      session   preload sessions, then a validate-heavy session-store mix with Zipf-hot users
      load      preload sessions and report memory (used_memory, VmRSS) per session
      expiry    keys whose TTLs end in the same second; how long expired keys linger, and the
                latency of PING/GET traffic meanwhile
      migrate   copy every key of a standalone server (--from host:port) into a Redis Cluster
                (--server seed, implies --cluster): SCAN, then per type GET/HGETALL/SMEMBERS +
                PTTL, written as SET/HSET/SADD + PEXPIRE routed by slot

    Cluster:
      --cluster         the --server(s) are seed nodes of one Redis Cluster: read CLUSTER SLOTS,
                        route each operation to its slot's primary, follow -MOVED/-ASK, report
                        per-node load (session workload, closed loop)

    Servers and rounds:
      --server [name=]host:port   server to measure (repeatable; loopback only; default 127.0.0.1:6379)
      --server-pid name=PID       server process, for CPU time per op (/proc) and RSS (repeatable)
      --rounds N                  interleaved rounds per server, medians reported (default 3)

    Load shape:
      --connections N   connections in total (default 50)      --threads N   client threads (default 1)
      --pipeline N      operations in flight per connection (default 1)
      --duration S      seconds measured per run (default 10)  --requests N  stop after N operations
      --warmup S        seconds run before measuring (default 1)
      --rate R          open loop: R operations/s in total, latency from the intended send time
      --seed N          seed for the workload PRNG (session ids always come from /dev/urandom)

    ops:      --ops LIST  --keys N (100000)  --value-size N (32)  --fields N (10, hash fields/set members)
    session:  --sessions N (100000)  --users N (sessions/5)  --zipf S (0.99)  --state-bytes N (0)
              --ttl S (1800)  --mix validate=80,login=8,update=8,logout=3,list=1
              --sessions-native (the same mix with SESSION.VALIDATE/CREATE/REVOKE/LIST; servers without them are skipped)
              --plain-validate pipelined|checked  the plain mix's validate (default pipelined):
                pipelined  HGETALL + EXPIRE in one round trip (no absoluteExpiry check, no lastActivity)
                checked    what SESSION.VALIDATE TOUCH does, as an application does it on Redis: HGETALL,
                           check absoluteExpiry in the client, then HSET lastActivity + EXPIRE (valid) or
                           DEL + SREM user_sessions (expired); two round trips counted as one validation
                           (not with --sessions-native or --cluster)
              --no-preload (reuse nothing: validations then miss; for testing only)
    load:     --sessions N (500000)  --state-bytes N  --flush (FLUSHALL each server first: destroys its data!)
    expiry:   --keys N (1000000)  --expire-in S (3: seconds from end of load to the deadline second)
              --expiry-timeout S (60)  --rate R (default 10000 for the concurrent PING/GET traffic)

    Output:
      --format markdown|plain (default markdown)   --json FILE   --svg FILE
      --progress / --no-progress (default: progress line on stderr when it is a terminal)
      --quiet   print only the tables
    """

    public static func parse(_ arguments: [String]) throws -> BenchOptions {
        var options = BenchOptions()
        var pids: [(String?, Int32)] = []
        var args = arguments[...]
        guard let first = args.first else { throw BenchError("missing workload\n\n\(usage)") }
        if first == "-h" || first == "--help" || first == "help" { throw HelpRequested() }
        guard let kind = WorkloadKind(rawValue: first) else {
            throw BenchError("unknown workload '\(first)': expected ops, session, load, expiry or migrate")
        }
        options.workload = kind
        args = args.dropFirst()
        if kind == .load { options.session.sessions = 500_000 }

        while let raw = args.first {
            args = args.dropFirst()
            var flag = raw
            var inlineValue: String?
            if raw.hasPrefix("--"), let eq = raw.firstIndex(of: "=") {
                flag = String(raw[..<eq])
                inlineValue = String(raw[raw.index(after: eq)...])
            }
            func value() throws -> String {
                if let inlineValue { return inlineValue }
                guard let next = args.first else { throw BenchError("\(flag) needs a value") }
                args = args.dropFirst()
                return next
            }
            func int(_ minimum: Int = 0) throws -> Int {
                let text = try value()
                guard let v = Int(text.replacingUnderscores()), v >= minimum else { throw BenchError("\(flag): expected an integer >= \(minimum), got '\(text)'") }
                return v
            }
            func double(_ minimum: Double = 0) throws -> Double {
                let text = try value()
                guard let v = Double(text), v >= minimum, v.isFinite else { throw BenchError("\(flag): expected a number >= \(minimum), got '\(text)'") }
                return v
            }
            switch flag {
            case "-h", "--help": throw HelpRequested()
            case "--server": options.servers.append(try ServerTarget.parse(try value()))
            case "--server-pid":
                let text = try value()
                if let eq = text.firstIndex(of: "=") {
                    guard let pid = Int32(text[text.index(after: eq)...]), pid > 0 else { throw BenchError("bad --server-pid '\(text)'") }
                    pids.append((String(text[..<eq]), pid))
                } else {
                    guard let pid = Int32(text), pid > 0 else { throw BenchError("bad --server-pid '\(text)'") }
                    pids.append((nil, pid))
                }
            case "--rounds": options.rounds = try int(1)
            case "--connections", "-c": options.connections = try int(1)
            case "--threads": options.threads = try int(1)
            case "--pipeline", "-P": options.pipeline = try int(1)
            case "--duration": options.duration = try double(0.001)
            case "--requests", "-n": options.requests = try int(1)
            case "--warmup": options.warmup = try double(0)
            case "--rate": options.rate = try double(0.001)
            case "--format":
                let text = try value()
                guard let f = OutputFormat(rawValue: text) else { throw BenchError("--format: expected markdown or plain") }
                options.format = f
            case "--json": options.jsonPath = try value()
            case "--svg": options.svgPath = try value()
            case "--seed": options.seed = UInt64(try int(0))
            case "--progress": options.progress = true
            case "--no-progress": options.progress = false
            case "--quiet", "-q": options.quiet = true
            case "--cluster": options.cluster = true
            case "--from": options.migrateFrom = try ServerTarget.parse(try value())
            case "--ops":
                options.families = try value().split(separator: ",").map {
                    guard let f = CommandFamily(rawValue: $0.lowercased().trimmedOf(" ")) else {
                        throw BenchError("unknown op '\($0)': known: \(CommandFamily.allCases.map(\.rawValue).joined(separator: ","))")
                    }
                    return f
                }
                if options.families.isEmpty { throw BenchError("--ops is empty") }
            case "--keys": options.keys = try int(1)
            case "--value-size": options.valueSize = try int(0)
            case "--fields": options.fields = try int(1)
            case "--sessions": options.session.sessions = try int(1); options.sessionsGiven = true
            case "--users": options.session.users = try int(1)
            case "--zipf": options.session.zipf = try double(0)
            case "--state-bytes": options.session.stateBytes = try int(0)
            case "--ttl": options.session.idleTTL = try int(1)
            case "--mix": options.session.mix = try SessionSettings.parseMix(try value())
            case "--sessions-native": options.session.native = true
            case "--plain-validate":
                let text = try value()
                guard let mode = PlainValidate(rawValue: text) else {
                    throw BenchError("--plain-validate: expected pipelined or checked, got '\(text)'")
                }
                options.session.plainValidate = mode
            case "--no-preload": options.preload = false
            case "--flush": options.flush = true
            case "--expire-in": options.expireIn = try double(0.5)
            case "--expiry-timeout": options.expiryTimeout = try double(1)
            default: throw BenchError("unknown option '\(raw)' (see --help)")
            }
        }
        if options.servers.isEmpty { options.servers = [ServerTarget(name: "127.0.0.1:6379", host: "127.0.0.1", port: 6379)] }
        var names = Set<String>()
        for s in options.servers {
            guard names.insert(s.name).inserted else { throw BenchError("duplicate server name '\(s.name)'") }
        }
        for (name, pid) in pids {
            if let name {
                guard let i = options.servers.firstIndex(where: { $0.name == name }) else {
                    throw BenchError("--server-pid \(name)=\(pid): no --server named '\(name)'")
                }
                options.servers[i].pid = pid
            } else {
                guard options.servers.count == 1 else { throw BenchError("--server-pid PID is ambiguous with several servers: use name=PID") }
                options.servers[0].pid = pid
            }
        }
        if options.workload == .expiry && options.rate == nil { options.rate = 10_000 }
        if options.workload == .migrate {
            options.cluster = true
            guard options.migrateFrom != nil else { throw BenchError("migrate needs --from host:port (the standalone source)") }
        }
        if options.cluster && ![.session, .migrate].contains(options.workload) {
            throw BenchError("--cluster supports the session and migrate workloads")
        }
        if options.cluster && options.rate != nil { throw BenchError("--rate (open loop) is not supported with --cluster") }
        if options.session.plainValidate == .checked {
            guard options.workload == .session else { throw BenchError("--plain-validate applies to the session workload") }
            if options.session.native {
                throw BenchError("--plain-validate checked cannot be combined with --sessions-native: it is the plain mix's "
                                 + "equivalent of SESSION.VALIDATE TOUCH (run them as separate invocations to compare)")
            }
            if options.cluster {
                throw BenchError("--plain-validate checked is not supported with --cluster (the cluster engine sends each "
                                 + "operation in one round trip)")
            }
        }
        if options.threads > options.connections { options.threads = options.connections }
        return options
    }
}

public struct HelpRequested: Error {}

extension String {
    func replacingUnderscores() -> String { String(filter { $0 != "_" }) }
}
