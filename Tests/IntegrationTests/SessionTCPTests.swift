// SESSION.* over real TCP: RESP2 flat arrays and RESP3 maps, byte for byte; the timer wheel
// pruning user_sessions while a keyspace-notification subscriber watches; and redis-cli.

#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Sesame
import Testing

@Suite("SESSION.* over TCP", .serialized)
struct SessionTCPTests {
    private static func token(_ reply: [UInt8]) throws -> String {
        guard let s = try RESPValue.parse(reply).string else { throw TestFailure("not a token: \(printable(reply))") }
        return s
    }

    @Test("RESP2 arrays, RESP3 maps, LIST, ROTATE, REVOKEALL")
    func replies() throws {
        let clock = ManualClock(startingAt: 1_800_000_000_000)
        let sesame = try SesameInstance(clock: clock)
        let c = try sesame.client()
        let token = try Self.token(c.call("SESSION.CREATE", "42", "IDLE", "60", "ABSOLUTE", "3600", "ipAddress", "10.1.2.3"))
        let id = String(token.dropFirst(4))
        #expect(token.hasPrefix("NDI.") && id.count == 27)
        let fields = "$9\r\nsessionId\r\n$27\r\n\(id)\r\n$6\r\nuserId\r\n$2\r\n42\r\n"
            + "$9\r\ncreatedAt\r\n$13\r\n1800000000000\r\n$12\r\nlastActivity\r\n$13\r\n1800000000000\r\n"
            + "$14\r\nabsoluteExpiry\r\n$13\r\n1800003600000\r\n$11\r\nidleTimeout\r\n$2\r\n60\r\n"
            + "$9\r\nipAddress\r\n$8\r\n10.1.2.3\r\n"
        #expect(try c.call("SESSION.VALIDATE", token) == bytes("*14\r\n" + fields))
        #expect(try c.call("HGETALL", "sess:{42}:\(id)") == bytes("*14\r\n" + fields), "the same data a plain client reads")
        #expect(try c.call("SESSION.VALIDATE", "NDI.AAAAAAAAAAAAAAAAAAAAAAAAAAA") == bytes("$-1\r\n"))
        #expect(try c.call("HELLO", "3").first == UInt8(ascii: "%"))
        #expect(try c.call("SESSION.VALIDATE", token) == bytes("%7\r\n" + fields))
        #expect(try c.call("SESSION.VALIDATE", "NDI.AAAAAAAAAAAAAAAAAAAAAAAAAAA") == bytes("_\r\n"))
        clock.advance(seconds: 10)
        let touched = try c.call("SESSION.VALIDATE", token, "TOUCH")
        #expect(printable(touched).contains("$12\r\nlastActivity\r\n$13\r\n1800000010000\r\n".replacingOccurrences(of: "\r\n", with: "\\r\\n")))
        #expect(try c.call("TTL", "sess:{42}:\(id)") == bytes(":60\r\n"))
        let list = try c.call("SESSION.LIST", "42")
        #expect(list == bytes("*1\r\n%5\r\n$2\r\nid\r\n$\(token.utf8.count)\r\n\(token)\r\n$9\r\ncreatedAt\r\n$13\r\n1800000000000\r\n"
                                + "$12\r\nlastActivity\r\n$13\r\n1800000010000\r\n$9\r\nipAddress\r\n$8\r\n10.1.2.3\r\n$9\r\nuserAgent\r\n_\r\n"))
        let rotated = try Self.token(c.call("SESSION.ROTATE", token))
        #expect(try c.call("SESSION.VALIDATE", token) == bytes("_\r\n"))
        #expect(try RESPValue.parse(c.call("SESSION.VALIDATE", rotated)) != .null)
        #expect(try c.call("SESSION.REVOKEALL", "42") == bytes(":1\r\n"))
        #expect(try c.call("DBSIZE") == bytes(":0\r\n"))
    }

    @Test("The timer wheel deletes an idle session and its set member; subscribers see both")
    func expiryPrunesTheSetWithNotifications() throws {
        let clock = ManualClock()
        let sesame = try SesameInstance(clock: clock)
        let c = try sesame.client()
        let sub = try sesame.client()
        #expect(try c.call("CONFIG", "SET", "notify-keyspace-events", "KEA") == bytes("+OK\r\n"))
        _ = try sub.call("PSUBSCRIBE", "__keyevent@0__:*")
        let keep = try Self.token(c.call("SESSION.CREATE", "u1", "IDLE", "1000"))
        let short = try Self.token(c.call("SESSION.CREATE", "u1", "IDLE", "5"))
        var events: [String] = []
        func drain(_ n: Int) throws {
            for _ in 0..<n {
                guard case .array(let a) = try RESPValue.parse(sub.readReply()), a.count == 4,
                      let channel = a[2].string, let key = a[3].string else { continue }
                events.append("\(channel.replacingOccurrences(of: "__keyevent@0__:", with: "")) \(key)")
            }
        }
        // hset + expire + sadd per create.
        try drain(6)
        #expect(events.filter { $0.hasPrefix("sadd") } == ["sadd user_sessions:{u1}", "sadd user_sessions:{u1}"])
        events = []
        let shortKey = "sess:{u1}:\(short.split(separator: ".")[1])"
        clock.advance(seconds: 6)
        try drain(2)
        #expect(events == ["expired \(shortKey)", "srem user_sessions:{u1}"])
        #expect(try c.call("SMEMBERS", "user_sessions:{u1}") == bytes("*1\r\n$37\r\nsess:{u1}:\(keep.split(separator: ".")[1])\r\n"))
    }

    @Test("redis-cli: create, validate, list",
          .enabled(if: ExternalTools.redisCLIEnabled, "redis-cli is not on PATH (set CI=true to make this a failure)"))
    func redisCLI() throws {
        let cli = try ExternalTools.require(ExternalTools.redisCLI, "redis-cli")
        let sesame = try SesameInstance()
        let p = "\(sesame.port)"
        func run(_ args: [String]) throws -> String {
            let r = try runProcess(cli, ["-p", p] + args, timeoutSeconds: 20)
            #expect(r.status == 0, "redis-cli \(args) exited \(r.status): \(r.stderr)")
            return r.stdout
        }
        let token = try run(["SESSION.CREATE", "alice@example.com", "userAgent", "curl/8.5"]).trimmingCharacters(in: .newlines)
        #expect(token.hasPrefix("YWxpY2VAZXhhbXBsZS5jb20.") && token.count == 24 + 27)
        let v = try run(["-3", "--no-raw", "SESSION.VALIDATE", token, "TOUCH"])
        #expect(v.hasPrefix("1# \"sessionId\" => \"\(token.suffix(27))\"\n2# \"userId\" => \"alice@example.com\"\n"))
        #expect(v.hasSuffix("7# \"userAgent\" => \"curl/8.5\"\n"))
        #expect(try run(["SESSION.LIST", "alice@example.com"]).hasPrefix("id\n\(token)\ncreatedAt\n"))
        #expect(try run(["SESSION.REVOKE", token]) == "1\n")
    }
}
