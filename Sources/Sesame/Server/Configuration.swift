// Server settings, read redis-server's way: `sesame-server [config-file] [--key value ...]`,
// where the file holds `key value` lines and flags override the file. Unknown keys and bad
// values are errors that name the key, never silently ignored.

#if canImport(Glibc)
import Glibc
#endif

public struct Configuration: Sendable {
    public var port: Int = 6379
    /// Loopback only unless asked: a session store must not listen on the network by default.
    /// A leading "-" marks an address as optional (skipped if the host lacks it), as in redis.conf.
    public var bindAddresses: [String] = ["127.0.0.1", "-::1"]
    public var threads: Int = Configuration.defaultThreads
    public var databases: Int = 16
    public var shards: Int = 256
    public var logLevel: LogLevel = .notice
    public var requirePass: String? = nil
    public var limits = RESPLimits()
    /// Stop reading from a client whose pending output exceeds this (bytes).
    public var outputSoftLimit: Int = 64 * 1024 * 1024
    /// Close a client whose pending output exceeds this (bytes).
    public var outputHardLimit: Int = 256 * 1024 * 1024
    public var maxClients: Int = 10000
    /// Bytes of accounted key space data before eviction or -OOM (0 = no limit), as Redis's
    /// `maxmemory`; see Storage/Eviction.swift for what is counted.
    public var maxMemory: Int = 0
    public var maxMemoryPolicy: EvictionPolicy = .noEviction
    /// Keys sampled per eviction, as Redis's `maxmemory-samples`.
    public var maxMemorySamples: Int = 5
    /// `rename-command NAME NEWNAME` in order; an empty new name disables the command.
    public var renamedCommands: [(from: String, to: String)] = []
    /// Close a client idle this many seconds (0 = never), as Redis's `timeout`.
    public var idleTimeoutSeconds: Int = 0
    /// SO_KEEPALIVE probe interval in seconds (0 = off), as Redis's `tcp-keepalive`.
    public var tcpKeepAliveSeconds: Int = 300
    /// With no password set, refuse clients from non-loopback addresses (Redis's default).
    public var protectedMode = true
    /// The timer wheel's tick; also the longest an event loop sleeps while keys have TTLs.
    public var expiryTickMilliseconds: Int64 = 10
    /// Most keys one loop turn deletes by active expiry, so a mass expiry never stalls a loop.
    public var expiryBudgetPerTurn: Int = 2000
    public var configFile: String? = nil
    /// Write the bound port here once listening (for test harnesses in other languages).
    public var portFile: String? = nil
    /// Exit (cleanly, as on SIGTERM) when the parent process dies.
    public var exitWithParent = false
    /// Allow DEBUG, including the test-only clock control (DEBUG ADVANCE-TIME / SET-TIME).
    public var enableDebugCommand = false
    /// Keyspace notification classes, Redis's flag string ("" = off, "KEA" = everything).
    public var notifyKeyspaceEvents = ""
    /// Present as a one-node Redis Cluster owning every slot (Server/ClusterMode.swift).
    public var clusterEnabled = false
    /// Refuse what Redis Cluster would (CROSSSLOT, SELECT n) while standalone.
    public var clusterCheck = false
    /// The address cluster replies announce; nil = the connection's local address.
    public var clusterAnnounceIP: String? = nil
    /// SESSION.* defaults (docs/SESSIONS.md): idle and absolute timeouts in seconds (0 = none),
    /// sessions per user (0 = unlimited).
    public var sessionIdleTimeout = 1800
    public var sessionAbsoluteTimeout = 7 * 86400
    public var sessionMaxDevices = 0
    /// The optional HTTP session API listener (`http-*` keys; HTTP/HTTPServer.swift).
    public var http = HTTPSettings()
    /// Append-only file persistence (docs/PERSISTENCE.md), Redis's names and defaults.
    public var appendOnly = false
    public var appendFsync: AppendFsync = .everysec
    /// Where the append-only file lives (Sesame does not chdir there, unlike Redis).
    public var dir = "."
    public var appendFilename = "appendonly.aof"
    /// Load a file whose last command was cut short (crash mid-write), dropping that command.
    public var aofLoadTruncated = true
    public var autoAOFRewritePercentage = 100
    public var autoAOFRewriteMinSize = 64 * 1024 * 1024

    public init() {}

    public init(port: Int, threads: Int = Configuration.defaultThreads) {
        self.port = port
        self.threads = threads
    }

    public static var defaultThreads: Int {
        max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    public enum LogLevel: String, Sendable, Comparable {
        case debug, verbose, notice, warning, nothing
        var rank: Int {
            switch self {
            case .debug: 0
            case .verbose: 1
            case .notice: 2
            case .warning: 3
            case .nothing: 4
            }
        }
        public static func < (a: LogLevel, b: LogLevel) -> Bool { a.rank < b.rank }
    }

    public struct Error: Swift.Error, CustomStringConvertible {
        public let description: String
    }

    /// Parses `argv` minus the program name.
    public static func parse(arguments: [String]) throws -> Configuration {
        var config = Configuration()
        var args = arguments[...]
        if let first = args.first, !first.hasPrefix("--") {
            config.configFile = first
            let text: String
            do { text = try readFile(first) } catch {
                throw Error(description: "Fatal error, can't open config file '\(first)': \(error)")
            }
            try config.apply(fileContents: text)
            args = args.dropFirst()
        }
        while let flag = args.first {
            args = args.dropFirst()
            guard flag.hasPrefix("--"), flag.count > 2 else {
                throw Error(description: "Invalid argument '\(flag)': options are given as --name value")
            }
            let key = String(flag.dropFirst(2))
            var values: [String] = []
            while let v = args.first, !v.hasPrefix("--") {
                values.append(v)
                args = args.dropFirst()
            }
            try config.set(key, values)
        }
        return config
    }

    public mutating func apply(fileContents: String) throws {
        // Lines end in \n or \r\n; each is cut like Redis's config loader does (sdssplitargs),
        // so quoted values may hold spaces.
        var lineNumber = 0
        for raw in Array(fileContents.utf8).split(separator: 10, omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = Array(raw)
            if line.last == 13 { line.removeLast() }
            let trimmed = line.drop { $0 == 32 || $0 == 9 }
            if trimmed.isEmpty || trimmed.first == UInt8(ascii: "#") { continue }
            guard let parts = splitArguments(line), !parts.isEmpty else {
                throw Error(description: "Unbalanced quotes in configuration line \(lineNumber)")
            }
            let words = parts.map { String(decoding: $0, as: UTF8.self) }
            do {
                try set(words[0], Array(words.dropFirst()))
            } catch let e as Error {
                throw Error(description: "Bad directive or wrong number of arguments at line \(lineNumber): \(e.description)")
            }
        }
    }

    /// Applies one setting, as `CONFIG SET` and the config file would.
    public mutating func set(_ rawKey: String, _ values: [String]) throws {
        let key = rawKey.lowercased()
        func one() throws -> String {
            guard values.count == 1 else { throw Error(description: "'\(key)' takes one value") }
            return values[0]
        }
        func yesNo() throws -> Bool {
            if values.isEmpty { return true }  // a bare flag: --exit-with-parent
            switch try one().lowercased() {
            case "yes": return true
            case "no": return false
            default: throw Error(description: "'\(key)' must be yes or no")
            }
        }
        func int(_ range: ClosedRange<Int>) throws -> Int {
            let v = try one()
            guard let n = Int(v), range.contains(n) else {
                throw Error(description: "'\(key)' must be an integer in \(range.lowerBound)...\(range.upperBound), got '\(v)'")
            }
            return n
        }
        switch key {
        case "port": port = try int(0...65535)
        case "bind":
            guard !values.isEmpty else { throw Error(description: "'bind' needs at least one address") }
            bindAddresses = values
        case "threads", "io-threads": threads = try int(1...256)
        case "databases": databases = try int(1...1024)
        case "shards": shards = try int(1...16384)
        case "loglevel":
            guard let l = LogLevel(rawValue: try one().lowercased()) else {
                throw Error(description: "'loglevel' must be one of debug, verbose, notice, warning, nothing")
            }
            logLevel = l
        case "requirepass":
            let v = try one()
            requirePass = v.isEmpty ? nil : v
        case "maxclients": maxClients = try int(1...1_000_000)
        case "timeout": idleTimeoutSeconds = try int(0...Int(Int32.max))
        case "tcp-keepalive": tcpKeepAliveSeconds = try int(0...Int(Int32.max))
        case "protected-mode": protectedMode = try yesNo()
        case "client-output-buffer-limit":
            // `normal <hard> <soft> <soft-seconds>`: the hard limit closes the client; 0 keeps
            // Sesame's default. Read back-pressure (outputSoftLimit) applies in any case.
            guard values.count == 4 else { throw Error(description: "'client-output-buffer-limit' takes <class> <hard> <soft> <seconds>") }
            guard let hard = parseMemory(values[1]), parseMemory(values[2]) != nil, Int(values[3]) != nil else {
                throw Error(description: "'client-output-buffer-limit' has an invalid size or time")
            }
            let cls = values[0].lowercased()
            guard ["normal", "pubsub", "replica", "slave"].contains(cls) else {
                throw Error(description: "'client-output-buffer-limit' class must be normal, pubsub or replica")
            }
            if cls == "normal" && hard > 0 {
                outputHardLimit = hard
                outputSoftLimit = min(outputSoftLimit, hard)
            }
        case "notify-keyspace-events":
            let v = try one()
            guard NotifyClass(flags: v) != nil else {
                throw Error(description: "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
            }
            notifyKeyspaceEvents = v
        case "cluster-enabled": clusterEnabled = try yesNo()
        case "cluster-check": clusterCheck = try yesNo()
        case "cluster-announce-ip":
            let v = try one()
            clusterAnnounceIP = v.isEmpty ? nil : v
        case "session-idle-timeout": sessionIdleTimeout = try int(0...SessionDefaults.maxSeconds)
        case "session-absolute-timeout": sessionAbsoluteTimeout = try int(0...SessionDefaults.maxSeconds)
        case "session-max-devices": sessionMaxDevices = try int(0...SessionDefaults.maxDevicesLimit)
        case "port-file": portFile = try one()
        case "exit-with-parent": exitWithParent = try yesNo()
        case "enable-debug-command":
            let v = try one().lowercased()
            guard ["yes", "no", "local"].contains(v) else {
                throw Error(description: "'enable-debug-command' must be yes, no or local")
            }
            enableDebugCommand = v != "no"
        case "maxmemory":
            let v = try one()
            guard let n = parseMemory(v) else { throw Error(description: "'maxmemory' must be a size such as 100mb, got '\(v)'") }
            maxMemory = n
        case "maxmemory-policy":
            let v = try one().lowercased()
            guard let p = EvictionPolicy(rawValue: v) else {
                throw Error(description: "'maxmemory-policy' must be one of \(EvictionPolicy.allCases.map(\.rawValue).joined(separator: ", ")), got '\(v)'")
            }
            maxMemoryPolicy = p
        case "maxmemory-samples": maxMemorySamples = try int(1...64)
        case "rename-command":
            guard values.count == 2 else { throw Error(description: "'rename-command' takes <name> <new-name> (\"\" to disable)") }
            try addRename(values[0], values[1])
        case "proto-max-bulk-len": limits.maxBulkLength = try memory(one(), key: key, min: 1024 * 1024)
        case "client-query-buffer-limit": _ = try memory(one(), key: key, min: 1024 * 1024)
        case "daemonize":
            if try one().lowercased() == "yes" {
                throw Error(description: "'daemonize yes' is not supported: run sesame-server under a supervisor")
            }
        case "appendonly": appendOnly = try yesNo()
        case "appendfsync":
            guard let f = AppendFsync(name: try one()) else { throw Error(description: "'appendfsync' must be always, everysec or no") }
            appendFsync = f
        case "dir":
            let v = try one()
            guard !v.isEmpty else { throw Error(description: "'dir' must not be empty") }
            dir = v.count > 1 && v.hasSuffix("/") ? String(v.dropLast()) : v
        case "appendfilename":
            let v = try one()
            guard !v.isEmpty, !v.contains("/") else { throw Error(description: "appendfilename can't be a path, just a filename") }
            appendFilename = v
        case "aof-load-truncated": aofLoadTruncated = try yesNo()
        case "auto-aof-rewrite-percentage": autoAOFRewritePercentage = try int(0...Int(Int32.max))
        case "auto-aof-rewrite-min-size": autoAOFRewriteMinSize = try memory(one(), key: key, min: 0)
        case "aof-use-rdb-preamble", "appenddirname", "no-appendfsync-on-rewrite", "aof-rewrite-incremental-fsync", "aof-timestamp-enabled":
            // Accepted for redis.conf compatibility: Sesame writes one plain RESP file.
            break
        case "save", "tcp-backlog", "hz",
             "logfile", "dbfilename", "pidfile", "supervised", "always-show-logo",
             "cluster-config-file", "cluster-node-timeout":
            // Accepted for redis.conf compatibility; these have no effect yet (see docs).
            break
        case _ where key.hasPrefix("http-"):
            try http.set(key, values)
        default:
            throw Error(description: "Unknown option or number of arguments for CONFIG SET - '\(rawKey)'")
        }
    }

    /// Records a rename after checking it against the command table as earlier renames left
    /// it: the command must exist and the new name must be free (Redis's errors).
    mutating func addRename(_ from: String, _ to: String) throws {
        var names = Set(allCommands().map(\.name))
        for r in renamedCommands {
            names.remove(r.from)
            if !r.to.isEmpty { names.insert(r.to) }
        }
        let old = from.lowercased(), new = to.lowercased()
        guard names.contains(old) else { throw Error(description: "No such command in rename-command: '\(from)'") }
        if !new.isEmpty && new != old && names.contains(new) {
            throw Error(description: "Target command name already exists in rename-command: '\(to)'")
        }
        renamedCommands.append((old, new))
    }

    func memory(_ v: String, key: String, min: Int) throws -> Int {
        guard let n = parseMemory(v), n >= min else {
            throw Error(description: "'\(key)' must be a size such as 512mb (at least \(min) bytes), got '\(v)'")
        }
        return n
    }
}

/// Redis's memory units: 1k = 1000, 1kb = 1024, and so on; case-insensitive.
public func parseMemory(_ s: String) -> Int? {
    let lower = s.lowercased()
    let units: [(String, Int)] = [("gb", 1 << 30), ("mb", 1 << 20), ("kb", 1 << 10),
                                  ("g", 1_000_000_000), ("m", 1_000_000), ("k", 1000), ("b", 1)]
    for (suffix, mult) in units where lower.hasSuffix(suffix) {
        guard let n = Int(lower.dropLast(suffix.count)), n >= 0 else { return nil }
        return n.multipliedReportingOverflow(by: mult).overflow ? nil : n * mult
    }
    return Int(lower)
}

func readFile(_ path: String) throws -> String {
    guard let f = fopen(path, "rb") else {
        throw Configuration.Error(description: String(cString: strerror(errno)))
    }
    defer { fclose(f) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = fread(&chunk, 1, chunk.count, f)
        if n <= 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
    }
    return String(decoding: bytes, as: UTF8.self)
}
