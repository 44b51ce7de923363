// The HTTP session API's routing, JSON handling and the RESP commands each endpoint builds.
// The SESSION.* commands are not in this build, so: (1) against the real command table every
// session endpoint answers 501 naming its command; (2) against a stand-in that records the
// commands and answers the way the SESSION.* design describes, each endpoint sends the
// documented command and turns its reply into the documented response.

import Testing
@testable import Sesame

private func request(_ method: String, _ path: String, body: String = "", headers: [(String, String)] = []) -> HTTPRequest {
    var h = headers.map { (name: $0.0.lowercased(), value: $0.1) }
    if !body.isEmpty { h.append((name: "content-type", value: "application/json")) }
    let parts = path.split(separator: "?", maxSplits: 1)
    return HTTPRequest(method: method, path: String(parts[0]), query: parts.count > 1 ? String(parts[1]) : "",
                       minorVersion: 1, headers: h, body: Array(body.utf8), keepAlive: true)
}

private extension HTTPResponse {
    var text: String { String(decoding: body, as: UTF8.self) }
    func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name }?.1 }
}

/// Records commands and answers like SESSION.* would, over one in-memory session.
private final class FakeSessions: @unchecked Sendable {
    var commands: [[String]] = []
    var live = true
    var execFails = false

    func run(_ args: [String]) -> [UInt8] {
        commands.append(args)
        func bulk(_ s: String) -> String { "$\(s.utf8.count)\r\n\(s)\r\n" }
        let reply: String
        switch args[0] {
        case "SESSION.CREATE": reply = bulk("SID123")
        case "SESSION.VALIDATE":
            reply = live ? "%3\r\n" + bulk("userId") + bulk("u1") + bulk("csrfToken") + bulk("tok") + bulk("role") + bulk("user") : "_\r\n"
        case "SESSION.REVOKE": reply = live ? ":1\r\n" : ":0\r\n"
        case "SESSION.LIST": reply = "*1\r\n%2\r\n" + bulk("sessionId") + bulk("SID123") + bulk("userAgent") + bulk("curl")
        case "SESSION.REVOKEALL": reply = ":3\r\n"
        case "WATCH", "MULTI", "UNWATCH": reply = "+OK\r\n"
        case "HSET": reply = "+QUEUED\r\n"
        case "EXEC": reply = execFails ? "_\r\n" : "*1\r\n:1\r\n"
        default: reply = "-ERR unknown command\r\n"
        }
        return Array(reply.utf8)
    }
}

@Suite("HTTP session API")
struct HTTPAPITests {
    fileprivate func api(token: String? = nil) -> (HTTPAPI, FakeSessions) {
        let h = CommandHarness()
        let a = HTTPAPI(state: h.state, authToken: token)
        let fake = FakeSessions()
        a.hasCommand = { _ in true }
        a.execute = { fake.run($0) }
        return (a, fake)
    }

    @Test("without the SESSION.* commands (e.g. disabled by rename-command) every session endpoint answers 501 naming the command")
    func notImplemented() {
        let a = HTTPAPI(state: CommandHarness().state, authToken: nil)
        a.hasCommand = { !$0.lowercased().hasPrefix("session.") }
        let cases: [(String, String, String)] = [
            ("POST", "/sessions", "SESSION.CREATE"), ("GET", "/sessions/x", "SESSION.VALIDATE"),
            ("PATCH", "/sessions/x", "SESSION.VALIDATE"), ("DELETE", "/sessions/x", "SESSION.REVOKE"),
            ("GET", "/users/u/sessions", "SESSION.LIST"), ("DELETE", "/users/u/sessions", "SESSION.REVOKEALL"),
        ]
        for (method, path, command) in cases {
            let r = a.handle(request(method, path, body: "{\"userId\":\"u\",\"x\":\"y\"}"), peer: "127.0.0.1:5")
            #expect(r.status == 501, "\(method) \(path)")
            #expect(r.text == "{\"error\":\"\(command) is not available in this server build\"}")
        }
    }

    @Test("POST /sessions: SESSION.CREATE with options and fields, a CSRF token, the __Host- cookie")
    func create() {
        let (a, fake) = api()
        let r = a.handle(request("POST", "/sessions", body: #"{"userId":"u1","idle":1800,"absolute":86400,"maxDevices":5,"fields":{"role":"user","mfa":true}}"#,
                                 headers: [("User-Agent", "curl/8")]), peer: "10.0.0.7:5555")
        #expect(r.status == 201)
        #expect(r.header("set-cookie") == "__Host-sid=SID123; Path=/; Secure; HttpOnly; SameSite=Strict")
        #expect(r.header("location") == "/sessions/SID123")
        guard case .object(let members)? = JSONValue.parse(r.body), case .string(let csrf)? = JSONValue.object(members)["csrfToken"] else {
            Issue.record("no csrfToken in \(r.text)"); return
        }
        #expect(csrf.count == 43 && csrf.utf8.allSatisfy { $0 == 45 || $0 == 95 || ($0 >= 48 && $0 <= 57) || ($0 | 0x20 >= 97 && $0 | 0x20 <= 122) })
        #expect(fake.commands == [["SESSION.CREATE", "u1", "IDLE", "1800", "ABSOLUTE", "86400", "MAXDEVICES", "5",
                                   "csrfToken", csrf, "ipAddress", "10.0.0.7", "userAgent", "curl/8", "role", "user", "mfa", "true"]])
    }

    @Test("POST /sessions refuses what it cannot map", arguments: [
        ("", 400), ("{}", 400), (#"{"userId":""}"#, 400), (#"{"userId":5}"#, 400), ("[1]", 400), ("{bad", 400),
        (#"{"userId":"u","idle":"soon"}"#, 400), (#"{"userId":"u","fields":{"csrfToken":"x"}}"#, 400),
        (#"{"userId":"u","fields":{"a":{"b":1}}}"#, 400), (#"{"userId":"u","fields":[1]}"#, 400),
    ])
    func createRefused(_ body: String, _ status: Int) {
        let (a, fake) = api()
        #expect(a.handle(request("POST", "/sessions", body: body), peer: "1.2.3.4:1").status == status)
        #expect(fake.commands.isEmpty)
    }

    @Test("GET /sessions/{id}: SESSION.VALIDATE id TOUCH; fields as JSON, 404 when gone")
    func validate() {
        let (a, fake) = api()
        let r = a.handle(request("GET", "/sessions/SID123"), peer: "p:1")
        #expect(r.status == 200)
        #expect(r.text == #"{"userId":"u1","csrfToken":"tok","role":"user"}"#)
        #expect(fake.commands == [["SESSION.VALIDATE", "SID123", "TOUCH"]])
        fake.live = false
        #expect(a.handle(request("GET", "/sessions/SID123"), peer: "p:1").status == 404)
    }

    @Test("PATCH /sessions/{id}: CSRF checked, then WATCH + re-validate + MULTI/HSET/EXEC on sess:{userId}:id")
    func patch() {
        let (a, fake) = api()
        let body = #"{"role":"admin","theme":"dark"}"#
        #expect(a.handle(request("PATCH", "/sessions/SID123", body: body), peer: "p:1").status == 403)
        #expect(a.handle(request("PATCH", "/sessions/SID123", body: body, headers: [("X-CSRF-Token", "nope")]), peer: "p:1").status == 403)
        fake.commands = []
        let r = a.handle(request("PATCH", "/sessions/SID123", body: body, headers: [("X-CSRF-Token", "tok")]), peer: "p:1")
        #expect(r.status == 200)
        #expect(r.text == #"{"sessionId":"SID123","updated":2}"#)
        #expect(fake.commands == [["SESSION.VALIDATE", "SID123"], ["WATCH", "sess:{u1}:SID123"], ["SESSION.VALIDATE", "SID123"],
                                  ["MULTI"], ["HSET", "sess:{u1}:SID123", "role", "admin", "theme", "dark"], ["EXEC"]])
        fake.execFails = true
        #expect(a.handle(request("PATCH", "/sessions/SID123", body: body, headers: [("X-CSRF-Token", "tok")]), peer: "p:1").status == 409)
        #expect(a.handle(request("PATCH", "/sessions/SID123", body: #"{"userId":"x"}"#, headers: [("X-CSRF-Token", "tok")]), peer: "p:1").status == 400)
        fake.live = false
        #expect(a.handle(request("PATCH", "/sessions/SID123", body: body, headers: [("X-CSRF-Token", "tok")]), peer: "p:1").status == 404)
    }

    @Test("DELETE /sessions/{id}: CSRF checked, SESSION.REVOKE, 204")
    func revoke() {
        let (a, fake) = api()
        #expect(a.handle(request("DELETE", "/sessions/SID123"), peer: "p:1").status == 403)
        fake.commands = []
        let r = a.handle(request("DELETE", "/sessions/SID123", headers: [("X-CSRF-Token", "tok")]), peer: "p:1")
        #expect(r.status == 204 && r.body.isEmpty)
        #expect(fake.commands == [["SESSION.VALIDATE", "SID123"], ["SESSION.REVOKE", "SID123"]])
    }

    @Test("GET and DELETE /users/{userId}/sessions: SESSION.LIST / SESSION.REVOKEALL, user IDs percent-decoded")
    func users() {
        let (a, fake) = api()
        let list = a.handle(request("GET", "/users/alice%40example.com/sessions"), peer: "p:1")
        #expect(list.status == 200)
        #expect(list.text == #"{"userId":"alice@example.com","sessions":[{"sessionId":"SID123","userAgent":"curl"}]}"#)
        let all = a.handle(request("DELETE", "/users/alice%40example.com/sessions"), peer: "p:1")
        #expect(all.text == #"{"userId":"alice@example.com","revoked":3}"#)
        #expect(fake.commands == [["SESSION.LIST", "alice@example.com"], ["SESSION.REVOKEALL", "alice@example.com"]])
        #expect(a.handle(request("GET", "/users/a%2Fb/sessions"), peer: "p:1").status == 400)
    }

    @Test("bearer token: required everywhere but /healthz; 404 and 405 for unknown routes and methods")
    func authAndRouting() {
        let (a, _) = api(token: "s3cret")
        #expect(a.handle(request("GET", "/healthz"), peer: "p:1").status == 200)
        let denied = a.handle(request("GET", "/metrics"), peer: "p:1")
        #expect(denied.status == 401 && denied.header("www-authenticate") == "Bearer")
        #expect(a.handle(request("GET", "/metrics", headers: [("Authorization", "Bearer wrong")]), peer: "p:1").status == 401)
        let ok = a.handle(request("GET", "/metrics", headers: [("Authorization", "Bearer s3cret")]), peer: "p:1")
        #expect(ok.status == 200 && ok.text.contains("sesame_commands_processed_total"))
        let auth = [("Authorization", "Bearer s3cret")]
        #expect(a.handle(request("GET", "/nope", headers: auth), peer: "p:1").status == 404)
        let put = a.handle(request("PUT", "/sessions/x", headers: auth), peer: "p:1")
        #expect(put.status == 405 && put.header("allow") == "GET, PATCH, DELETE")
        #expect(a.handle(request("POST", "/sessions", body: "{}", headers: auth + [("Content-Type", "text/plain")]), peer: "p:1").status == 415)
    }

    @Test("/metrics: Prometheus text with the server's counters and the request histogram")
    func metrics() {
        let h = CommandHarness()
        h.run("SET", "a", "1")
        h.run("SET", "b", "2", "PX", "10")
        h.clock.advance(milliseconds: 20)
        h.run("GET", "b")
        let a = HTTPAPI(state: h.state, authToken: nil)
        _ = a.handle(request("GET", "/healthz"), peer: "p:1")
        let text = String(decoding: a.handle(request("GET", "/metrics"), peer: "p:1").body, as: UTF8.self)
        for line in ["# TYPE sesame_commands_processed_total counter", "sesame_keys{db=\"0\"} 1", "sesame_expired_keys_total 1",
                     "sesame_evicted_keys_total 0", "sesame_connected_clients 0", "sesame_http_requests_total{code=\"200\"} 1",
                     "sesame_http_request_duration_seconds_count 1", "# TYPE sesame_http_request_duration_seconds histogram",
                     "sesame_http_request_duration_seconds_bucket{le=\"+Inf\"} 1"] {
            #expect(text.contains(line + "\n"), "missing \(line)")
        }
        #expect(text.contains("sesame_used_memory_bytes "))
    }
}
