// The slot commands and the cross-slot check at the command layer, on a manual clock. The
// replies themselves are checked against a real cluster node in ClusterDifferentialTests.

import Testing
@testable import Sesame

@Suite struct ClusterCommandTests {
    @Test func slotCountsSeeOnlyLiveKeysOfTheSlotInTheCurrentDatabase() {
        let h = CommandHarness(shards: 16)
        let slot = HashSlot.of("u")
        for i in 0..<5 { h.run("SET", "{u}\(i)", "v") }
        h.run("SET", "{u}short", "v", "PX", "100")
        // Same shard (slot % 16), other slots: not counted.
        var other = 0
        for i in 0..<2000 where HashSlot.of("x\(i)") % 16 == slot % 16 && HashSlot.of("x\(i)") != slot {
            h.run("SET", "x\(i)", "v"); other += 1
        }
        #expect(other > 0)
        #expect(h.run("CLUSTER", "COUNTKEYSINSLOT", String(slot)) == ":6\r\n")
        h.clock.advance(milliseconds: 101)
        #expect(h.run("CLUSTER", "COUNTKEYSINSLOT", String(slot)) == ":5\r\n")
        let keys = h.run("CLUSTER", "GETKEYSINSLOT", String(slot), "3")
        #expect(keys.hasPrefix("*3\r\n"))
        #expect(h.run("CLUSTER", "GETKEYSINSLOT", String(slot), "0") == "*0\r\n")
        h.run("SELECT", "1")
        #expect(h.run("CLUSTER", "COUNTKEYSINSLOT", String(slot)) == ":0\r\n")
    }

    @Test func clusterCheckRefusesCrossSlotRequestsAndTransactions() {
        let h = CommandHarness()
        #expect(h.run("MGET", "a", "b") == "*2\r\n$-1\r\n$-1\r\n")
        h.state.cluster.setCheck(true)
        let crossSlot = "-CROSSSLOT Keys in request don't hash to the same slot\r\n"
        #expect(h.run("MGET", "a", "b") == crossSlot)
        #expect(h.run("MGET", "{a}1", "{a}2") == "*2\r\n$-1\r\n$-1\r\n")
        #expect(h.run("MSET", "{a}1", "x", "b", "y") == crossSlot)
        #expect(h.run("SINTERCARD", "2", "{s}1", "s2") == crossSlot)
        #expect(h.run("SINTERCARD", "2", "{s}1", "{s}2") == ":0\r\n")
        #expect(h.run("GET", "anything") == "$-1\r\n")
        // Each queued command is fine alone; together they span two slots.
        #expect(h.run("MULTI") == "+OK\r\n")
        #expect(h.run("SET", "a", "1") == "+QUEUED\r\n")
        #expect(h.run("SET", "b", "2") == "+QUEUED\r\n")
        #expect(h.run("EXEC") == crossSlot)
        #expect(h.run("EXEC") == "-ERR EXEC without MULTI\r\n")
        #expect(h.run("GET", "a") == "$-1\r\n")
        #expect(h.run("SELECT", "1") == "-ERR SELECT is not allowed in cluster mode\r\n")
        h.state.cluster.setCheck(false)
        #expect(h.run("MGET", "a", "b") == "*2\r\n$-1\r\n$-1\r\n")
        #expect(h.run("SELECT", "1") == "+OK\r\n")
    }

    @Test func nodeIDsAreFortyLowercaseHexCharactersAndDiffer() {
        let a = ClusterState(enabled: true, check: false, announceIP: nil)
        let b = ClusterState(enabled: true, check: false, announceIP: nil)
        #expect(a.nodeID.count == 40)
        #expect(a.nodeID.allSatisfy { "0123456789abcdef".contains($0) })
        #expect(a.nodeID != b.nodeID)
    }

    @Test func configurationReadsTheClusterKeys() throws {
        let c = try Configuration.parse(arguments: ["--cluster-enabled", "yes", "--cluster-check", "yes",
                                                    "--cluster-announce-ip", "10.0.0.5", "--cluster-config-file", "nodes.conf"])
        #expect(c.clusterEnabled && c.clusterCheck && c.clusterAnnounceIP == "10.0.0.5")
        #expect(throws: Configuration.Error.self) { try Configuration.parse(arguments: ["--cluster-enabled", "maybe"]) }
    }
}
