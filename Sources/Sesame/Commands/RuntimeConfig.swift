// Parameters CONFIG SET may change while the server runs and that no subsystem owns.
// `Configuration` is fixed at start; notify-keyspace-events lives with the notifier
// (ServerState.setNotifyKeyspaceEvents) and maxmemory with `Eviction`. This store keeps the
// rest as the canonical strings CONFIG GET returns, behind one Mutex (CONFIG is rare):
//
//   server.runtimeConfig.get("slowlog-max-len")
//
// Several of these are accepted for compatibility and have no effect (docs/COMMANDS.md says
// which): `save ""` and `appendonly no` are what test setups send.

import Synchronization

public final class RuntimeConfig: Sendable {
    private let values: Locked<[String: String]>

    /// The defaults are Redis 7's.
    public static let defaults: [String: String] = [
        "slowlog-log-slower-than": "10000",
        "slowlog-max-len": "128",
        "save": "",
        "appendonly": "no",
    ]

    public init() {
        values = Locked(RuntimeConfig.defaults)
    }

    /// The canonical value of a runtime parameter, nil for names this store does not hold.
    public func get(_ name: String) -> String? {
        values.withLock { $0[name] }
    }

    /// Stores already-validated, canonical values, all at once.
    func set(_ updates: [(String, String)]) {
        values.withLock { v in
            for (name, value) in updates { v[name] = value }
        }
    }
}
