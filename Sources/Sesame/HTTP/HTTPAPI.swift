// The HTTP endpoints: /healthz, Prometheus /metrics, and the session service API. Each session
// endpoint is the RESP command it stands for, run through Dispatcher.execute on an internal
// client, so HTTP and RESP callers share one implementation and one set of atomicity rules:
//
//   POST   /sessions                  SESSION.CREATE <userId> [IDLE s] [ABSOLUTE s] [MAXDEVICES n] field value ...
//   GET    /sessions/{id}             SESSION.VALIDATE <id> TOUCH
//   PATCH  /sessions/{id}             WATCH + SESSION.VALIDATE + MULTI/HSET/EXEC on sess:{userId}:<id>
//   DELETE /sessions/{id}             SESSION.REVOKE <id>
//   GET    /users/{userId}/sessions   SESSION.LIST <userId>
//   DELETE /users/{userId}/sessions   SESSION.REVOKEALL <userId>
//
// A build without the SESSION.* commands answers those endpoints 501, naming the command (the
// lookup is at request time, in the command table). Authentication: an optional shared bearer
// token (`http-auth-token`); deployments are expected to put a TLS / mTLS terminator in front.

import Synchronization

public final class HTTPAPI: @unchecked Sendable {
    let state: ServerState
    private let authToken: [UInt8]?
    /// Only the HTTP thread uses it (requests are handled one at a time).
    private let client: Client
    /// Runs a command and returns its RESP3 reply bytes (replaceable in tests).
    var execute: ([String]) -> [UInt8]
    /// Whether the command table has a command (replaceable in tests, with `execute`).
    var hasCommand: (String) -> Bool
    let connections = Atomic<Int>(0)
    private let metrics = HTTPMetrics()

    /// Session fields the API manages; PATCH may not overwrite them.
    static let reservedFields: Set<String> = ["sessionId", "userId", "createdAt", "lastActivity", "absoluteExpiry", "csrfToken"]

    init(state: ServerState, authToken: String?) {
        self.state = state
        self.authToken = authToken.map { Array($0.utf8) }
        let client = Client(id: state.nextClientID.wrappingAdd(1, ordering: .relaxed).oldValue, server: state, output: ByteBuffer())
        client.resp3 = true
        client.authenticated = true
        client.name = Array("http-api".utf8)
        self.client = client
        self.hasCommand = { name in state.commands.lookup(name.lowercased()) != nil }
        self.execute = { args in
            client.output.clear()
            OwnedArguments(args).withArguments { Dispatcher.execute(client, $0) }
            return client.output.readableArray
        }
    }

    // MARK: - Entry point

    func handle(_ request: HTTPRequest, peer: String) -> HTTPResponse {
        let started = monotonicNanoseconds()
        let response = route(request, peer: peer)
        record(status: response.status, seconds: Double(monotonicNanoseconds() - started) / 1e9)
        return response
    }

    func record(status: Int, seconds: Double) {
        metrics.observe(status: status, seconds: seconds)
    }

    private func route(_ r: HTTPRequest, peer: String) -> HTTPResponse {
        let segments = r.path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        if segments.count == 1 && segments.first == "healthz" {
            guard r.method == "GET" || r.method == "HEAD" else { return methodNotAllowed("GET") }
            return .json(200, .object([("status", .string("ok"))]))
        }
        if let token = authToken {
            guard let header = r.header("authorization"), header.hasPrefix("Bearer "),
                  constantTimeEqual(Array(header.utf8.dropFirst(7)), token) else {
                return .error(401, "missing or invalid bearer token", headers: [("WWW-Authenticate", "Bearer")])
            }
        }
        var parts: [String] = []
        for s in segments {
            guard let decoded = HTTPParser.percentDecode(s) else { return .error(400, "malformed path") }
            parts.append(String(decoding: decoded, as: UTF8.self))
        }
        switch parts.count {
        case 1 where parts[0] == "metrics":
            guard r.method == "GET" else { return methodNotAllowed("GET") }
            return HTTPResponse(status: 200, headers: [("Content-Type", "text/plain; version=0.0.4")],
                                body: Array(metricsText().utf8))
        case 1 where parts[0] == "sessions":
            guard r.method == "POST" else { return methodNotAllowed("POST") }
            return createSession(r, peer: peer)
        case 2 where parts[0] == "sessions" && !parts[1].isEmpty:
            switch r.method {
            case "GET": return validateSession(parts[1])
            case "PATCH": return patchSession(parts[1], r)
            case "DELETE": return revokeSession(parts[1], r)
            default: return methodNotAllowed("GET, PATCH, DELETE")
            }
        case 3 where parts[0] == "users" && !parts[1].isEmpty && parts[2] == "sessions":
            switch r.method {
            case "GET": return listSessions(parts[1])
            case "DELETE": return revokeAll(parts[1])
            default: return methodNotAllowed("GET, DELETE")
            }
        default:
            return .error(404, "not found")
        }
    }

    private func methodNotAllowed(_ allow: String) -> HTTPResponse {
        .error(405, "method not allowed", headers: [("Allow", allow)])
    }

    // MARK: - Sessions

    /// 501 unless this build has `name` (the SESSION.* commands come from a separate change).
    private func require(_ name: String) -> HTTPResponse? {
        hasCommand(name) ? nil : .error(501, "\(name) is not available in this server build")
    }

    private func body(_ r: HTTPRequest) -> Result<JSONValue, HTTPResponse> {
        if r.body.isEmpty { return .success(.object([])) }
        if let type = r.header("content-type"), !type.lowercased().hasPrefix("application/json") {
            return .failure(.error(415, "request body must be application/json"))
        }
        guard let v = JSONValue.parse(r.body), case .object = v else {
            return .failure(.error(400, "request body must be a JSON object"))
        }
        return .success(v)
    }

    private func createSession(_ r: HTTPRequest, peer: String) -> HTTPResponse {
        if let missing = require("SESSION.CREATE") { return missing }
        let json: JSONValue
        switch body(r) { case .success(let v): json = v; case .failure(let e): return e }
        guard case .string(let userId)? = json["userId"], !userId.isEmpty else {
            return .error(400, "userId (a non-empty string) is required")
        }
        var args = ["SESSION.CREATE", userId]
        for (key, option) in [("idle", "IDLE"), ("absolute", "ABSOLUTE"), ("maxDevices", "MAXDEVICES")] {
            guard let v = json[key] else { continue }
            guard case .number(let n) = v, Int(n) != nil else { return .error(400, "\(key) must be an integer") }
            args += [option, n]
        }
        let csrf = base64URL(secureRandomBytes(32))
        var fields: [(String, String)] = [("csrfToken", csrf)]
        let ip = json["ipAddress"]?.scalarText ?? peer.split(separator: ":").dropLast().joined(separator: ":")
        fields.append(("ipAddress", ip))
        if let ua = json["userAgent"]?.scalarText ?? r.header("user-agent") { fields.append(("userAgent", ua)) }
        if let extra = json["fields"] {
            guard case .object(let members) = extra else { return .error(400, "fields must be an object") }
            for (k, v) in members {
                guard !HTTPAPI.reservedFields.contains(k) else { return .error(400, "field \(k) is managed by the server") }
                guard let text = v.scalarText else { return .error(400, "field \(k) must be a string, number or boolean") }
                fields.append((k, text))
            }
        }
        for (k, v) in fields { args += [k, v] }
        let reply = RESPReply.parse(execute(args))
        switch reply {
        case .bulk, .simple:
            let sid = reply.text ?? ""
            return .json(201, .object([("sessionId", .string(sid)), ("csrfToken", .string(csrf))]),
                         headers: [("Set-Cookie", "__Host-sid=\(sid); Path=/; Secure; HttpOnly; SameSite=Strict"),
                                   ("Location", "/sessions/\(sid)")])
        default:
            return commandFailure(reply)
        }
    }

    private func validateSession(_ id: String) -> HTTPResponse {
        if let missing = require("SESSION.VALIDATE") { return missing }
        let reply = RESPReply.parse(execute(["SESSION.VALIDATE", id, "TOUCH"]))
        switch reply {
        case .null: return .error(404, "session not found")
        case .map, .array: return .json(200, reply.json)
        default: return commandFailure(reply)
        }
    }

    /// Fields of a live session without touching it, or the response to give instead.
    private func liveSession(_ id: String) -> Result<[String: String], HTTPResponse> {
        let reply = RESPReply.parse(execute(["SESSION.VALIDATE", id]))
        switch reply {
        case .null: return .failure(.error(404, "session not found"))
        case .map, .array: return .success(reply.stringPairs)
        default: return .failure(commandFailure(reply))
        }
    }

    /// Mutations must carry the session's CSRF token (X-CSRF-Token), compared in constant time.
    private func checkCSRF(_ fields: [String: String], _ r: HTTPRequest) -> HTTPResponse? {
        guard let expected = fields["csrfToken"] else { return nil }
        guard let given = r.header("x-csrf-token"), constantTimeEqual(Array(given.utf8), Array(expected.utf8)) else {
            return .error(403, "missing or wrong X-CSRF-Token")
        }
        return nil
    }

    private func patchSession(_ id: String, _ r: HTTPRequest) -> HTTPResponse {
        if let missing = require("SESSION.VALIDATE") { return missing }
        let json: JSONValue
        switch body(r) { case .success(let v): json = v; case .failure(let e): return e }
        guard case .object(let members) = json, !members.isEmpty else { return .error(400, "nothing to update") }
        var hset: [String] = []
        for (k, v) in members {
            guard !HTTPAPI.reservedFields.contains(k) else { return .error(400, "field \(k) is managed by the server") }
            guard let text = v.scalarText else { return .error(400, "field \(k) must be a string, number or boolean") }
            hset += [k, text]
        }
        let before: [String: String]
        switch liveSession(id) { case .success(let f): before = f; case .failure(let e): return e }
        if let denied = checkCSRF(before, r) { return denied }
        guard let userId = before["userId"] else { return .error(500, "session has no userId") }
        // WATCH, then check the session is still there, then write: a revoke or expiry in
        // between makes EXEC fail instead of recreating a hash without its TTL.
        let key = "sess:{\(userId)}:\(id)"
        _ = execute(["WATCH", key])
        guard case .success = liveSession(id) else {
            _ = execute(["UNWATCH"])
            return .error(404, "session not found")
        }
        _ = execute(["MULTI"])
        _ = execute(["HSET", key] + hset)
        switch RESPReply.parse(execute(["EXEC"])) {
        case .null: return .error(409, "session changed during the update; retry")
        case .array(let results):
            if case .error(let e)? = results.first { return .error(500, e) }
            return .json(200, .object([("sessionId", .string(id)), ("updated", .number("\(members.count)"))]))
        case let other: return commandFailure(other)
        }
    }

    private func revokeSession(_ id: String, _ r: HTTPRequest) -> HTTPResponse {
        if let missing = require("SESSION.REVOKE") { return missing }
        switch liveSession(id) {
        case .success(let fields): if let denied = checkCSRF(fields, r) { return denied }
        case .failure(let e): return e
        }
        let reply = RESPReply.parse(execute(["SESSION.REVOKE", id]))
        switch reply {
        case .integer(let n): return n > 0 ? HTTPResponse(status: 204, headers: [], body: []) : .error(404, "session not found")
        default: return commandFailure(reply)
        }
    }

    private func listSessions(_ userId: String) -> HTTPResponse {
        if let missing = require("SESSION.LIST") { return missing }
        let reply = RESPReply.parse(execute(["SESSION.LIST", userId]))
        switch reply {
        case .array, .map, .set: return .json(200, .object([("userId", .string(userId)), ("sessions", reply.json)]))
        default: return commandFailure(reply)
        }
    }

    private func revokeAll(_ userId: String) -> HTTPResponse {
        if let missing = require("SESSION.REVOKEALL") { return missing }
        let reply = RESPReply.parse(execute(["SESSION.REVOKEALL", userId]))
        switch reply {
        case .integer(let n): return .json(200, .object([("userId", .string(userId)), ("revoked", .number("\(n)"))]))
        default: return commandFailure(reply)
        }
    }

    private func commandFailure(_ reply: RESPReply) -> HTTPResponse {
        if case .error(let e) = reply {
            // Argument errors are the caller's; OOM and the rest are the server's.
            return e.hasPrefix("OOM") ? .error(503, e) : .error(400, e)
        }
        return .error(500, "unexpected reply from the command")
    }

    // MARK: - Metrics

    func metricsText() -> String {
        let s = state
        var out = ""
        func metric(_ name: String, _ type: String, _ help: String, _ samples: [(String, String)]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (labels, value) in samples { out += "\(name)\(labels) \(value)\n" }
        }
        metric("sesame_commands_processed_total", "counter", "RESP commands processed.",
               [("", "\(s.sum { $0.commands.load(ordering: .relaxed) })")])
        metric("sesame_connected_clients", "gauge", "RESP client connections.",
               [("", "\(s.connectedClients.load(ordering: .relaxed))")])
        metric("sesame_connections_received_total", "counter", "RESP connections accepted.",
               [("", "\(s.totalConnections.load(ordering: .relaxed))")])
        let stats = s.keyspace.keyspaceStats().enumerated().filter { $0.element.keys > 0 }
        metric("sesame_keys", "gauge", "Keys per database.", stats.map { ("{db=\"\($0.offset)\"}", "\($0.element.keys)") })
        metric("sesame_keys_with_ttl", "gauge", "Keys with a TTL per database.",
               stats.map { ("{db=\"\($0.offset)\"}", "\($0.element.expires)") })
        metric("sesame_used_memory_bytes", "gauge", "Bytes allocated by the process (INFO used_memory).",
               [("", "\(usedMemory())")])
        metric("sesame_dataset_bytes", "gauge", "Accounted bytes of keys and values (what maxmemory limits).",
               [("", "\(s.keyspace.approximateUsedBytes)")])
        metric("sesame_expired_keys_total", "counter", "Keys removed by expiry.", [("", "\(s.keyspace.expiredKeys)")])
        metric("sesame_evicted_keys_total", "counter", "Keys removed by maxmemory eviction.",
               [("", "\(s.eviction.evictedKeys.load(ordering: .relaxed))")])
        metric("sesame_keyspace_hits_total", "counter", "Reads that found their key.",
               [("", "\(s.sum { $0.keyspaceHits.load(ordering: .relaxed) })")])
        metric("sesame_keyspace_misses_total", "counter", "Reads that did not.",
               [("", "\(s.sum { $0.keyspaceMisses.load(ordering: .relaxed) })")])
        metric("sesame_tracking_clients", "gauge", "Connections with CLIENT TRACKING on.",
               [("", "\(s.tracking.clientCount)")])
        metric("sesame_http_connections", "gauge", "Open HTTP API connections.",
               [("", "\(connections.load(ordering: .relaxed))")])
        out += metrics.text()
        return out
    }
}

/// HTTP request counts by status and a latency histogram (the HTTP thread writes, a scrape
/// reads; both on that one thread, but kept behind a mutex so tests may read from elsewhere).
final class HTTPMetrics: Sendable {
    static let bounds: [Double] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1]
    private struct State {
        var byStatus: [Int: Int] = [:]
        var buckets = [Int](repeating: 0, count: HTTPMetrics.bounds.count)
        var count = 0
        var sum = 0.0
    }
    private let state = Locked(State())

    func observe(status: Int, seconds: Double) {
        state.withLock { s in
            s.byStatus[status, default: 0] += 1
            for (i, b) in HTTPMetrics.bounds.enumerated() where seconds <= b { s.buckets[i] += 1 }
            s.count += 1
            s.sum += seconds
        }
    }

    func text() -> String {
        let s = state.withLock { $0 }
        var out = "# HELP sesame_http_requests_total HTTP API requests by status.\n# TYPE sesame_http_requests_total counter\n"
        for (code, n) in s.byStatus.sorted(by: { $0.key < $1.key }) { out += "sesame_http_requests_total{code=\"\(code)\"} \(n)\n" }
        out += "# HELP sesame_http_request_duration_seconds HTTP API request latency (handling, excluding network).\n"
        out += "# TYPE sesame_http_request_duration_seconds histogram\n"
        for (i, b) in HTTPMetrics.bounds.enumerated() {
            out += "sesame_http_request_duration_seconds_bucket{le=\"\(b)\"} \(s.buckets[i])\n"
        }
        out += "sesame_http_request_duration_seconds_bucket{le=\"+Inf\"} \(s.count)\n"
        out += "sesame_http_request_duration_seconds_sum \(s.sum)\n"
        out += "sesame_http_request_duration_seconds_count \(s.count)\n"
        return out
    }
}

/// Lets a helper return either a value or the response to send instead.
extension HTTPResponse: Error {}

/// A decoded RESP2/RESP3 reply (from the internal client's output).
indirect enum RESPReply: Equatable {
    case simple(String)
    case error(String)
    case integer(Int)
    case bulk([UInt8])
    case null
    case array([RESPReply])
    case set([RESPReply])
    case map([(RESPReply, RESPReply)])
    case other(String)

    static func == (a: RESPReply, b: RESPReply) -> Bool { a.json == b.json }

    static func parse(_ bytes: [UInt8]) -> RESPReply {
        var i = 0
        return parse(bytes, &i) ?? .other("unparsable reply")
    }

    private static func parse(_ b: [UInt8], _ i: inout Int) -> RESPReply? {
        guard i < b.count else { return nil }
        let type = b[i]
        var j = i + 1
        while j + 1 < b.count && !(b[j] == 13 && b[j + 1] == 10) { j += 1 }
        guard j + 1 < b.count else { return nil }
        let line = String(decoding: b[(i + 1)..<j], as: UTF8.self)
        i = j + 2
        switch type {
        case UInt8(ascii: "+"): return .simple(line)
        case UInt8(ascii: "-"), UInt8(ascii: "!"): return .error(line)
        case UInt8(ascii: ":"): return Int(line).map { .integer($0) }
        case UInt8(ascii: "_"): return .null
        case UInt8(ascii: "#"): return .simple(line == "t" ? "true" : "false")
        case UInt8(ascii: ","), UInt8(ascii: "("): return .simple(line)
        case UInt8(ascii: "$"), UInt8(ascii: "="):
            guard let n = Int(line) else { return nil }
            if n < 0 { return .null }
            guard i + n + 2 <= b.count else { return nil }
            var data = Array(b[i..<(i + n)])
            if type == UInt8(ascii: "=") && data.count >= 4 { data.removeFirst(4) }  // "txt:"
            i += n + 2
            return .bulk(data)
        case UInt8(ascii: "*"), UInt8(ascii: "~"), UInt8(ascii: ">"):
            guard let n = Int(line) else { return nil }
            if n < 0 { return .null }
            var items: [RESPReply] = []
            for _ in 0..<n { guard let v = parse(b, &i) else { return nil }; items.append(v) }
            return type == UInt8(ascii: "~") ? .set(items) : .array(items)
        case UInt8(ascii: "%"):
            guard let n = Int(line), n >= 0 else { return nil }
            var pairs: [(RESPReply, RESPReply)] = []
            for _ in 0..<n {
                guard let k = parse(b, &i), let v = parse(b, &i) else { return nil }
                pairs.append((k, v))
            }
            return .map(pairs)
        default: return .other(line)
        }
    }

    var text: String? {
        switch self {
        case .simple(let s): return s
        case .bulk(let b): return String(decoding: b, as: UTF8.self)
        case .integer(let n): return "\(n)"
        default: return nil
        }
    }

    /// Field/value pairs of a map (RESP3) or flat array (RESP2 HGETALL style).
    var stringPairs: [String: String] {
        var out: [String: String] = [:]
        switch self {
        case .map(let pairs):
            for (k, v) in pairs { if let k = k.text, let v = v.text { out[k] = v } }
        case .array(let items) where items.count % 2 == 0:
            var i = 0
            while i < items.count {
                if let k = items[i].text, let v = items[i + 1].text { out[k] = v }
                i += 2
            }
        default: break
        }
        return out
    }

    var json: JSONValue {
        switch self {
        case .simple(let s): return .string(s)
        case .error(let e): return .object([("error", .string(e))])
        case .integer(let n): return .number("\(n)")
        case .bulk(let b): return .string(String(decoding: b, as: UTF8.self))
        case .null: return .null
        case .set(let items): return .array(items.map(\.json))
        case .array(let items):
            // A flat field/value array (RESP2 HGETALL) reads better as an object.
            if !items.isEmpty && items.count % 2 == 0 && items.allSatisfy({ if case .bulk = $0 { true } else { false } }) {
                let p = stringPairs
                if p.count * 2 == items.count {
                    return .object(stride(from: 0, to: items.count, by: 2).map { (items[$0].text!, items[$0 + 1].json) })
                }
            }
            return .array(items.map(\.json))
        case .map(let pairs): return .object(pairs.map { ($0.0.text ?? "", $0.1.json) })
        case .other(let s): return .string(s)
        }
    }
}

func base64URL(_ bytes: [UInt8]) -> String {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    var out: [UInt8] = []
    var i = 0
    while i + 2 < bytes.count {
        let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
        for s in [18, 12, 6, 0] { out.append(alphabet[Int((v >> UInt32(s)) & 63)]) }
        i += 3
    }
    let rest = bytes.count - i
    if rest == 1 {
        let v = UInt32(bytes[i]) << 16
        out.append(alphabet[Int((v >> 18) & 63)]); out.append(alphabet[Int((v >> 12) & 63)])
    } else if rest == 2 {
        let v = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
        for s in [18, 12, 6] { out.append(alphabet[Int((v >> UInt32(s)) & 63)]) }
    }
    return String(decoding: out, as: UTF8.self)
}
