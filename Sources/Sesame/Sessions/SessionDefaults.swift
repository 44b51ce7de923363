// The server-wide session defaults (`session-idle-timeout`, `session-absolute-timeout`,
// `session-max-devices`): what SESSION.CREATE uses when a client gives no IDLE / ABSOLUTE /
// MAXDEVICES, and the idle timeout TOUCH applies to a session written by a plain client
// (no `idleTimeout` field). Atomics, because CONFIG SET changes them while every loop reads
// them on the validation path.

import Synchronization

public final class SessionDefaults: Sendable {
    /// Seconds; 0 = no idle timeout.
    public let idleSeconds: Atomic<Int>
    /// Seconds; 0 = no absolute lifetime.
    public let absoluteSeconds: Atomic<Int>
    /// Sessions per user; 0 = unlimited.
    public let maxDevices: Atomic<Int>

    /// The largest timeout accepted anywhere (about 68 years, Redis's EXPIRE range in seconds
    /// is larger but no session lives that long).
    public static let maxSeconds = Int(Int32.max)
    public static let maxDevicesLimit = 100_000

    public init(_ c: Configuration) {
        idleSeconds = Atomic(c.sessionIdleTimeout)
        absoluteSeconds = Atomic(c.sessionAbsoluteTimeout)
        maxDevices = Atomic(c.sessionMaxDevices)
    }
}

extension SessionDefaults {
    public enum Setting: Sendable { case idle, absolute, maxDevices }

    public func get(_ s: Setting) -> Int {
        switch s {
        case .idle: return idleSeconds.load(ordering: .relaxed)
        case .absolute: return absoluteSeconds.load(ordering: .relaxed)
        case .maxDevices: return maxDevices.load(ordering: .relaxed)
        }
    }

    public func set(_ s: Setting, _ v: Int) {
        switch s {
        case .idle: idleSeconds.store(v, ordering: .relaxed)
        case .absolute: absoluteSeconds.store(v, ordering: .relaxed)
        case .maxDevices: maxDevices.store(v, ordering: .relaxed)
        }
    }
}
