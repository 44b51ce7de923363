// The shard lock. pthread_mutex measured ~6 ns uncontended on this toolchain against ~18 ns for
// Synchronization.Mutex (DESIGN.md), and a shard lock is taken on every command.
// It is recursive: EXEC takes the locks of every shard its queued commands touch (ascending
// order) and then runs those commands, whose handlers take the same locks again.

#if canImport(Glibc)
import Glibc
#endif

public final class ShardLock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    public init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        var attr = pthread_mutexattr_t()
        pthread_mutexattr_init(&attr)
        pthread_mutexattr_settype(&attr, Int32(PTHREAD_MUTEX_RECURSIVE))
        pthread_mutex_init(mutex, &attr)
        pthread_mutexattr_destroy(&attr)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    @inline(__always) public func lock() { pthread_mutex_lock(mutex) }
    @inline(__always) public func unlock() { pthread_mutex_unlock(mutex) }
    /// Takes the lock if it is free (or already held by this thread); never waits.
    @inline(__always) public func tryLock() -> Bool { pthread_mutex_trylock(mutex) == 0 }

    @inline(__always)
    public func withLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}

/// A value behind a pthread mutex, for state several threads share off the per-key path
/// (mailboxes, client registry, tracking tables, runtime config). Used instead of
/// `Synchronization.Mutex`, whose futex ThreadSanitizer cannot see: it reported every access
/// to state guarded that way as a race, which would hide a real one.
final class Locked<Value>: @unchecked Sendable {
    private let lock = ShardLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    @inline(__always)
    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
