// --exit-with-parent: a test harness in another language starts sesame-server and may die
// without stopping it. prctl(PR_SET_PDEATHSIG) is variadic and not callable from Swift, so a
// small thread notices re-parenting instead (within 100 ms) and raises SIGTERM, which the
// server binary handles as a clean shutdown.

#if canImport(Glibc)
import Glibc
#endif

public enum ParentWatcher {
    /// Returns false when the parent is already gone.
    public static func start() -> Bool {
        let parent = getppid()
        if parent == 1 { return false }
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { arg in
            let parent = pid_t(truncatingIfNeeded: Int(bitPattern: arg))
            while getppid() == parent { usleep(100_000) }
            kill(getpid(), SIGTERM)
            return nil
        }, UnsafeMutableRawPointer(bitPattern: Int(parent)))
        if rc == 0 { pthread_detach(thread) }
        return true
    }
}
