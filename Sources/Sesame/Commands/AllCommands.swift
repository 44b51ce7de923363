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
        return withShard(raw) { shard in body(shard, key(from: raw)) }
    }

    /// `withKey` for handlers that take the key as argument bytes (the Shard methods with a
    /// `bytes:` label): no Key, no copy into the key scratch, no retain.
    @inline(__always)
    func withKeyBytes<R>(_ args: Arguments, _ i: Int, _ body: (Shard, UnsafeRawBufferPointer) -> R) -> R {
        let raw = args[i]
        return withShard(raw) { shard in body(shard, raw) }
    }

    @inline(__always) func hit() {
        if batchesStats { pendingHits &+= 1 } else { server.loopStatsFor(self).keyspaceHits.wrappingAdd(1, ordering: .relaxed) }
    }
    @inline(__always) func miss() {
        if batchesStats { pendingMisses &+= 1 } else { server.loopStatsFor(self).keyspaceMisses.wrappingAdd(1, ordering: .relaxed) }
    }
}

extension ServerState {
    @inline(__always) func loopStatsFor(_ client: Client) -> LoopStats {
        loopStats[client.loopIndex]
    }
}
