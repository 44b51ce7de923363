#if canImport(Glibc)
import Glibc
#endif
import Synchronization

// Worker threads are plain pthreads: the load loop must own its core, never yield to a
// cooperative executor. A thread's result travels back through a Mutex-guarded box.

/// A value handed from one thread to another exactly once.
public final class ResultBox<T: Sendable>: Sendable {
    private let storage = Mutex<T?>(nil)
    public init() {}
    public func store(_ value: T) { storage.withLock { $0 = value } }
    public func take() -> T? { storage.withLock { value in let v = value; value = nil; return v } }
}

private final class ThreadStart: Sendable {
    let body: @Sendable () -> Void
    init(_ body: @escaping @Sendable () -> Void) { self.body = body }
}

/// A joinable pthread running `body`. Join exactly once.
public final class WorkerThread {
    private let handle: pthread_t
    private var joined = false

    public init(_ body: @escaping @Sendable () -> Void) throws {
        let start = Unmanaged.passRetained(ThreadStart(body)).toOpaque()
        var handle = pthread_t()
        let rc = pthread_create(&handle, nil, { raw in
            let start = Unmanaged<ThreadStart>.fromOpaque(raw!).takeRetainedValue()
            start.body()
            return nil
        }, start)
        guard rc == 0 else {
            Unmanaged<ThreadStart>.fromOpaque(start).release()
            throw BenchError("pthread_create failed: \(errnoText(rc))")
        }
        self.handle = handle
    }

    public func join() {
        guard !joined else { return }
        joined = true
        pthread_join(handle, nil)
    }
}

/// A counter one thread bumps and another reads (progress line).
public final class SharedCounter: Sendable {
    private let value = Atomic<Int>(0)
    public init() {}
    @inline(__always) public func store(_ v: Int) { value.store(v, ordering: .relaxed) }
    public func increment() { value.add(1, ordering: .relaxed) }
    public func load() -> Int { value.load(ordering: .relaxed) }
}

/// A flag the coordinator raises to stop workers early.
public final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    public init() {}
    public func raise() { value.store(true, ordering: .relaxed) }
    @inline(__always) public var isRaised: Bool { value.load(ordering: .relaxed) }
}
