// The whole command table, assembled from one registration list per command group.

func allCommands() -> [CommandSpec] {
    connectionCommands + serverCommands + keyCommands + stringCommands + hashCommands + setCommands
        + debugCommands + transactionCommands + pubsubCommands + monitorCommands
        + scanCommands + objectCommands + adminCommands + configCommands
        + clusterCommands + sessionCommands + persistenceCommands
}

extension Client {
    /// Locks the shard of argument `i` and gives the handler the shard and the key.
    @inline(__always)
    func withKey<R>(_ args: Arguments, _ i: Int, _ body: (Shard, Key) -> R) -> R {
        let raw = args[i]
        return keyspace.withShard(raw) { shard in body(shard, key(from: raw)) }
    }

    @inline(__always) func hit() { server.loopStatsFor(self).keyspaceHits.add(1, ordering: .relaxed) }
    @inline(__always) func miss() { server.loopStatsFor(self).keyspaceMisses.add(1, ordering: .relaxed) }
}

extension ServerState {
    @inline(__always) func loopStatsFor(_ client: Client) -> LoopStats {
        loopStats[client.loopIndex]
    }
}
