// Log lines in redis-server's shape (`pid:M 23 Nov 2026 14:37:23.123 * message`) on stderr.

#if canImport(Glibc)
import Glibc
#endif

public struct Logger: Sendable {
    public let level: Configuration.LogLevel

    public init(level: Configuration.LogLevel) { self.level = level }

    public func debug(_ m: @autoclosure () -> String) { emit(.debug, ".", m) }
    public func verbose(_ m: @autoclosure () -> String) { emit(.verbose, "-", m) }
    public func notice(_ m: @autoclosure () -> String) { emit(.notice, "*", m) }
    public func warning(_ m: @autoclosure () -> String) { emit(.warning, "#", m) }

    private func emit(_ l: Configuration.LogLevel, _ mark: String, _ m: () -> String) {
        guard l >= level, level != .nothing else { return }
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var t = ts.tv_sec
        var tmv = tm()
        localtime_r(&t, &tmv)
        var buf = [CChar](repeating: 0, count: 64)
        let n = strftime(&buf, buf.count, "%d %b %Y %H:%M:%S", &tmv)
        let stamp = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let ms = Int(ts.tv_nsec / 1_000_000)
        let msText = ms < 10 ? "00\(ms)" : ms < 100 ? "0\(ms)" : "\(ms)"
        let line = "\(getpid()):M \(stamp).\(msText) \(mark) \(m())\n"
        var bytes = Array(line.utf8)
        _ = bytes.withUnsafeMutableBytes { Glibc.write(2, $0.baseAddress, $0.count) }
    }
}
