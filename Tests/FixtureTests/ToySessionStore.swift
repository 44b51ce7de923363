// A toy session middleware, written the way an application would write one against Redis:
// a hash per session with a sliding idle TTL, an absolute expiry checked by the application, a
// set per user for "log out everywhere", and one retry on a failed command. It is the "real
// consumer" of the fixture: the tests below exercise it against an in-process Sesame.

import Sesame

final class ToySessionStore {
    let connection: RedisConnection
    let idleSeconds: Int
    let absoluteSeconds: Int
    let now: () -> Int64

    init(connection: RedisConnection, idleSeconds: Int = 1800, absoluteSeconds: Int = 86400,
         now: @escaping () -> Int64) {
        self.connection = connection
        self.idleSeconds = idleSeconds
        self.absoluteSeconds = absoluteSeconds
        self.now = now
    }

    /// One retry after an error or a dropped connection, as production middlewares do.
    func call(_ args: [String]) throws -> RESPValue {
        do {
            let reply = try connection.send(args)
            if case .error = reply { return try connection.send(args) }
            return reply
        } catch {
            try connection.connect()
            return try connection.send(args)
        }
    }

    func create(userID: String, sessionID: String, ip: String) throws -> String {
        let key = "sess:{\(userID)}:\(sessionID)"
        let t = now()
        _ = try call(["HSET", key, "sessionId", sessionID, "userId", userID, "createdAt", "\(t)",
                      "lastActivity", "\(t)", "absoluteExpiry", "\(t + Int64(absoluteSeconds) * 1000)",
                      "ipAddress", ip])
        _ = try call(["EXPIRE", key, "\(idleSeconds)"])
        _ = try call(["SADD", "user_sessions:{\(userID)}", key])
        return key
    }

    /// The session's fields, or nil when it is gone or past its absolute expiry.
    func validate(_ key: String) throws -> [String: String]? {
        guard case .array(let items) = try call(["HGETALL", key]), !items.isEmpty else { return nil }
        var fields: [String: String] = [:]
        for i in stride(from: 0, to: items.count - 1, by: 2) { fields[items[i].string!] = items[i + 1].string! }
        if let abs = fields["absoluteExpiry"].flatMap(Int64.init), abs <= now() {
            _ = try call(["DEL", key])
            return nil
        }
        _ = try call(["EXPIRE", key, "\(idleSeconds)"])
        return fields
    }

    func logoutEverywhere(userID: String) throws -> Int {
        let setKey = "user_sessions:{\(userID)}"
        guard case .array(let members) = try call(["SMEMBERS", setKey]) else { return 0 }
        let keys = members.compactMap(\.string)
        guard case .integer(let n) = try call(["DEL"] + keys + [setKey]) else { return 0 }
        return n - 1
    }
}
