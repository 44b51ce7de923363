#if canImport(Glibc)
import Glibc
#endif
import Synchronization

// Messages and the live progress line go to stderr (stdout carries only the result tables).
// The progress line redraws itself in place and is shown only on a terminal unless forced.

public final class Console: Sendable {
    public let showProgress: Bool
    public let quiet: Bool
    /// Not even warnings (library use, tests).
    public let muted: Bool
    private let progressVisible = Atomic<Bool>(false)

    public init(showProgress: Bool, quiet: Bool, muted: Bool = false) {
        self.showProgress = showProgress
        self.quiet = quiet
        self.muted = muted
    }

    public static let silent = Console(showProgress: false, quiet: true, muted: true)

    static func writeStderr(_ text: String) {
        var copy = text
        copy.withUTF8 { buffer in
            var offset = 0
            var attempts = 0
            while offset < buffer.count && attempts < 1000 {
                attempts += 1
                let n = write(2, buffer.baseAddress! + offset, buffer.count - offset)
                if n <= 0 { if errno == EINTR { continue }; return }
                offset += n
            }
        }
    }

    public static func writeStdout(_ text: String) {
        var copy = text
        copy.withUTF8 { buffer in
            var offset = 0
            var attempts = 0
            while offset < buffer.count && attempts < 10_000 {
                attempts += 1
                let n = write(1, buffer.baseAddress! + offset, buffer.count - offset)
                if n <= 0 { if errno == EINTR { continue }; return }
                offset += n
            }
        }
    }

    /// An informational line (suppressed by --quiet).
    public func info(_ message: String) {
        guard !quiet else { return }
        clearProgress()
        Self.writeStderr(message + "\n")
    }

    /// A warning (always shown).
    public func warn(_ message: String) {
        guard !muted else { return }
        clearProgress()
        Self.writeStderr("warning: " + message + "\n")
    }

    public func progress(_ line: String) {
        guard showProgress else { return }
        Self.writeStderr("\r\u{1B}[2K" + line)
        progressVisible.store(true, ordering: .relaxed)
    }

    public func clearProgress() {
        guard progressVisible.exchange(false, ordering: .relaxed) else { return }
        Self.writeStderr("\r\u{1B}[2K")
    }
}
