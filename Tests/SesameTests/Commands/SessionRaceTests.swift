import Testing
import Synchronization
@testable import Sesame

/// SESSION.* from several OS threads (each with its own Client, as each event loop has one):
/// once a REVOKE or ROTATE has returned, no VALIDATE that starts afterwards may succeed, and
/// every reply is whole (a full session or nil, never a half-deleted one).
@Suite struct SessionRaceTests {
    private static func makeState() -> ServerState {
        var cfg = Configuration()
        cfg.threads = 4
        cfg.shards = 16
        return ServerState(configuration: cfg, clock: ManualClock())
    }

    private static func execute(_ client: Client, _ args: [String]) -> String {
        client.output.clear()
        OwnedArguments(args).withArguments { Dispatcher.execute(client, $0) }
        let r = client.output.readableArray.text
        client.output.clear()
        return r
    }

    /// A full session reply: 6 server fields + ipAddress, flat (RESP2).
    private static func isWhole(_ r: String) -> Bool { r.hasPrefix("*14\r\n") && r.contains("ipAddress") }

    final class Flags: Sendable {
        let done = Atomic<Bool>(false)
        let failures = Atomic<Int>(0)
        let validAfter = Atomic<Int>(0)
        let validations = Atomic<Int>(0)
    }

    @Test func twoValidatesAndARevoke() {
        for round in 0..<20 {
            let state = Self.makeState()
            let setup = Client(id: 100, server: state, output: ByteBuffer())
            let token = SessionReply.parse(Self.execute(setup, ["SESSION.CREATE", "race\(round)", "ipAddress", "1.1.1.1"])).string!
            let flags = Flags()
            let ok = runThreads(3) { t in
                let c = Client(id: t + 1, server: state, output: ByteBuffer(), loopIndex: t)
                if t == 2 {
                    for _ in 0..<(50 + round * 10) { _ = Self.execute(c, ["SESSION.VALIDATE", token]) }
                    let r = Self.execute(c, ["SESSION.REVOKE", token])
                    if r != ":1\r\n" { flags.failures.add(1, ordering: .relaxed) }
                    flags.done.store(true, ordering: .releasing)
                    return
                }
                while true {
                    let revokedBefore = flags.done.load(ordering: .acquiring)
                    let r = Self.execute(c, ["SESSION.VALIDATE", token, "TOUCH"])
                    flags.validations.add(1, ordering: .relaxed)
                    if r == "$-1\r\n" { if revokedBefore { break } else { continue } }
                    if !Self.isWhole(r) { flags.failures.add(1, ordering: .relaxed) }
                    if revokedBefore { flags.validAfter.add(1, ordering: .relaxed); break }
                }
            }
            #expect(ok, "threads did not finish")
            #expect(flags.failures.load(ordering: .relaxed) == 0)
            #expect(flags.validAfter.load(ordering: .relaxed) == 0, "a session validated after REVOKE returned")
            #expect(Self.execute(setup, ["EXISTS", "user_sessions:{race\(round)}"]) == ":0\r\n")
            #expect(Self.execute(setup, ["DBSIZE"]) == ":0\r\n")
        }
    }

    @Test func rotateUnderConcurrentValidateOfTheOldId() {
        for round in 0..<20 {
            let state = Self.makeState()
            let setup = Client(id: 100, server: state, output: ByteBuffer())
            let old = SessionReply.parse(Self.execute(setup, ["SESSION.CREATE", "rot\(round)", "ipAddress", "1.1.1.1"])).string!
            let flags = Flags()
            let newToken = Mutex<String>("")
            let ok = runThreads(3) { t in
                let c = Client(id: t + 1, server: state, output: ByteBuffer(), loopIndex: t)
                if t == 2 {
                    for _ in 0..<(50 + round * 10) { _ = Self.execute(c, ["SESSION.VALIDATE", old]) }
                    let r = SessionReply.parse(Self.execute(c, ["SESSION.ROTATE", old]))
                    if let s = r.string { newToken.withLock { $0 = s } } else { flags.failures.add(1, ordering: .relaxed) }
                    flags.done.store(true, ordering: .releasing)
                    return
                }
                while true {
                    let rotatedBefore = flags.done.load(ordering: .acquiring)
                    let r = Self.execute(c, ["SESSION.VALIDATE", old, "TOUCH"])
                    if r == "$-1\r\n" { if rotatedBefore { break } else { continue } }
                    if !Self.isWhole(r) { flags.failures.add(1, ordering: .relaxed) }
                    if rotatedBefore { flags.validAfter.add(1, ordering: .relaxed); break }
                }
            }
            #expect(ok, "threads did not finish")
            #expect(flags.failures.load(ordering: .relaxed) == 0)
            #expect(flags.validAfter.load(ordering: .relaxed) == 0, "the old id validated after ROTATE returned")
            let new = newToken.withLock { $0 }
            #expect(Self.isWhole(Self.execute(setup, ["SESSION.VALIDATE", new])))
            #expect(Self.execute(setup, ["SCARD", "user_sessions:{rot\(round)}"]) == ":1\r\n")
            #expect(Self.execute(setup, ["DBSIZE"]) == ":2\r\n")
        }
    }

    /// Many users creating, rotating and revoking at once, with MAXDEVICES: the set of each user
    /// always ends up naming exactly its live sessions, and never more than the limit.
    @Test func mixedOperationsKeepSetsExact() {
        let state = Self.makeState()
        let ok = runThreads(4) { t in
            let c = Client(id: t + 1, server: state, output: ByteBuffer(), loopIndex: t)
            var rng = SplitMix64(seed: UInt64(t))
            var mine: [String] = []
            for i in 0..<600 {
                let user = "u\(Int.random(in: 0..<8, using: &rng))"
                switch Int.random(in: 0..<4, using: &rng) {
                case 0, 1:
                    if let tok = SessionReply.parse(Self.execute(c, ["SESSION.CREATE", user, "MAXDEVICES", "3", "ipAddress", "\(i)"])).string { mine.append(tok) }
                case 2:
                    if let tok = mine.popLast(), let n = SessionReply.parse(Self.execute(c, ["SESSION.ROTATE", tok])).string { mine.append(n) }
                default:
                    if let tok = mine.popLast() { _ = Self.execute(c, ["SESSION.REVOKE", tok]) }
                }
            }
        }
        #expect(ok)
        let c = Client(id: 99, server: state, output: ByteBuffer())
        for u in 0..<8 {
            let members = Set(SessionReply.parse(Self.execute(c, ["SMEMBERS", "user_sessions:{u\(u)}"])).items.compactMap(\.string))
            let keys = Set(SessionReply.parse(Self.execute(c, ["KEYS", "sess:{u\(u)}:*"])).items.compactMap(\.string))
            #expect(members == keys, "user u\(u): set and live keys differ")
            #expect(members.count <= 3)
        }
    }
}
