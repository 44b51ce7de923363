// A small HTTP/1.1 request parser for the optional session API listener (RFC 9112, the subset a
// JSON service needs): request line, header fields, a Content-Length body. Strict where
// leniency causes request smuggling or desync: CRLF line ends only, no whitespace before a
// header's colon, no obsolete line folding, one Content-Length (or several equal ones), no
// Transfer-Encoding (chunked bodies are refused with 501, never half-parsed). Every size a
// client controls has a limit: the request line and header block, the header count, the body.
//
// Incremental: the event loop appends bytes and calls `next` until it says `needMore`; the
// search for the end of the header block resumes where it stopped, so a request trickling in
// one byte at a time costs linear, not quadratic, work.

public struct HTTPLimits: Sendable {
    /// Request line plus header fields, including their line ends.
    public var maxHeaderBytes = 8 * 1024
    public var maxHeaderCount = 64
    public var maxBodyBytes = 64 * 1024
    public init() {}
}

public struct HTTPRequest: Sendable, Equatable {
    public var method: String
    /// The path as sent (still percent-encoded) and the query without its "?".
    public var path: String
    public var query: String
    public var minorVersion: Int
    /// Field names lowercased, values with surrounding whitespace removed, in order.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// Whether the connection stays open after the response (HTTP/1.1 default, or 1.0 with
    /// `Connection: keep-alive`).
    public var keepAlive: Bool

    public func header(_ name: String) -> String? {
        headers.first { $0.name == name }?.value
    }

    public static func == (a: HTTPRequest, b: HTTPRequest) -> Bool {
        a.method == b.method && a.path == b.path && a.query == b.query && a.minorVersion == b.minorVersion
            && a.headers.map(\.name) == b.headers.map(\.name) && a.headers.map(\.value) == b.headers.map(\.value)
            && a.body == b.body && a.keepAlive == b.keepAlive
    }
}

/// Why a request was refused: the status to answer with, then the connection closes.
public struct HTTPParseError: Error, Sendable, Equatable {
    public let status: Int
    public let message: String
}

public enum HTTPParseResult: Sendable, Equatable {
    case needMore
    /// A complete request and how many bytes of the buffer it used.
    case request(HTTPRequest, consumed: Int)
    case error(HTTPParseError)
}

public struct HTTPParser: Sendable {
    public let limits: HTTPLimits
    /// How far the search for the blank line has looked (bytes from the buffer start).
    private var scanned = 0

    public init(limits: HTTPLimits = HTTPLimits()) {
        self.limits = limits
    }

    /// Parses the request at the start of `buffer`. After `.request`, the caller removes
    /// `consumed` bytes and calls again (pipelined requests); after `.error`, it answers the
    /// status and closes.
    public mutating func next(_ buffer: [UInt8]) -> HTTPParseResult {
        // A stray empty line before a request is allowed (RFC 9112 2.2).
        var start = 0
        while start + 1 < buffer.count && buffer[start] == 13 && buffer[start + 1] == 10 { start += 2 }
        guard let headerEnd = findHeaderEnd(buffer, from: start) else {
            if buffer.count - start > limits.maxHeaderBytes {
                return .error(HTTPParseError(status: 431, message: "request header fields too large"))
            }
            return .needMore
        }
        if headerEnd - start > limits.maxHeaderBytes {
            return .error(HTTPParseError(status: 431, message: "request header fields too large"))
        }
        switch parseHead(buffer, start, headerEnd) {
        case .failure(let e):
            return .error(e)
        case .success(let (parsed, length)):
            var request = parsed
            let bodyStart = headerEnd + 4
            guard buffer.count - bodyStart >= length else { return .needMore }
            request.body = Array(buffer[bodyStart..<(bodyStart + length)])
            scanned = 0
            return .request(request, consumed: bodyStart + length)
        }
    }

    /// Index of the CRLFCRLF ending the header block, resuming the previous search.
    private mutating func findHeaderEnd(_ b: [UInt8], from start: Int) -> Int? {
        var i = max(start, scanned - 3)
        while i + 3 < b.count {
            if b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 { return i }
            i += 1
        }
        scanned = max(i, start)
        return nil
    }

    private func parseHead(_ b: [UInt8], _ start: Int, _ end: Int) -> Result<(HTTPRequest, Int), HTTPParseError> {
        func fail(_ status: Int, _ message: String) -> Result<(HTTPRequest, Int), HTTPParseError> {
            .failure(HTTPParseError(status: status, message: message))
        }
        // Split into lines on CRLF; a bare CR or LF anywhere is an error.
        var lines: [ArraySlice<UInt8>] = []
        var lineStart = start
        var i = start
        while i < end {
            let c = b[i]
            if c == 13 {
                guard i + 1 < end + 2, b[i + 1] == 10 else { return fail(400, "bare CR in header") }
                lines.append(b[lineStart..<i])
                i += 2
                lineStart = i
                continue
            }
            if c == 10 { return fail(400, "bare LF in header") }
            if c == 0 { return fail(400, "NUL in header") }
            i += 1
        }
        lines.append(b[lineStart..<end])
        guard let requestLine = lines.first else { return fail(400, "empty request") }
        if lines.count - 1 > limits.maxHeaderCount { return fail(431, "too many header fields") }

        // request-line = method SP request-target SP HTTP-version
        let parts = requestLine.split(separator: 32, omittingEmptySubsequences: false)
        guard parts.count == 3 else { return fail(400, "malformed request line") }
        let method = parts[0], target = parts[1], version = parts[2]
        guard !method.isEmpty, method.allSatisfy(HTTPParser.isTokenChar) else { return fail(400, "malformed method") }
        guard target.first == UInt8(ascii: "/"), target.allSatisfy({ $0 > 32 && $0 < 127 }) else {
            return fail(400, "request target must be an absolute path")
        }
        guard version.count == 8, version.starts(with: Array("HTTP/1.".utf8)),
              let minor = version.last, minor == UInt8(ascii: "0") || minor == UInt8(ascii: "1") else {
            if version.starts(with: Array("HTTP/".utf8)) { return fail(505, "HTTP version not supported") }
            return fail(400, "malformed HTTP version")
        }
        let minorVersion = Int(minor - UInt8(ascii: "0"))

        var headers: [(name: String, value: String)] = []
        var contentLength: Int? = nil
        var connectionClose = false, connectionKeepAlive = false
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { return fail(400, "header field without a colon") }
            let name = line[line.startIndex..<colon]
            guard !name.isEmpty, name.allSatisfy(HTTPParser.isTokenChar) else {
                return fail(400, "malformed header field name")  // includes obs-fold and space before ':'
            }
            var value = line[(colon + 1)...]
            while let f = value.first, f == 32 || f == 9 { value = value.dropFirst() }
            while let l = value.last, l == 32 || l == 9 { value = value.dropLast() }
            guard value.allSatisfy({ $0 == 9 || ($0 >= 32 && $0 != 127) }) else { return fail(400, "control character in header value") }
            let lname = String(decoding: name, as: UTF8.self).lowercased()
            let text = String(decoding: value, as: UTF8.self)
            switch lname {
            case "content-length":
                for item in text.split(separator: ",", omittingEmptySubsequences: false) {
                    let digits = item.trimmingCharacters(in: " \t")
                    guard !digits.isEmpty, digits.count <= 18, digits.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
                          let n = Int(digits) else { return fail(400, "invalid Content-Length") }
                    if let c = contentLength, c != n { return fail(400, "conflicting Content-Length") }
                    contentLength = n
                }
            case "transfer-encoding":
                return fail(501, "Transfer-Encoding is not supported; send a Content-Length")
            case "connection":
                for token in text.lowercased().split(separator: ",") {
                    let t = token.trimmingCharacters(in: " \t")
                    if t == "close" { connectionClose = true }
                    if t == "keep-alive" { connectionKeepAlive = true }
                }
            default:
                break
            }
            headers.append((lname, text))
        }
        let length = contentLength ?? 0
        if length > limits.maxBodyBytes { return fail(413, "request body larger than \(limits.maxBodyBytes) bytes") }
        let keepAlive = minorVersion == 1 ? !connectionClose : (connectionKeepAlive && !connectionClose)
        let targetText = String(decoding: target, as: UTF8.self)
        let (path, query): (String, String)
        if let q = targetText.firstIndex(of: "?") {
            (path, query) = (String(targetText[..<q]), String(targetText[targetText.index(after: q)...]))
        } else {
            (path, query) = (targetText, "")
        }
        let request = HTTPRequest(method: String(decoding: method, as: UTF8.self), path: path, query: query,
                                  minorVersion: minorVersion, headers: headers, body: [], keepAlive: keepAlive)
        return .success((request, length))
    }

    /// RFC 9110 tchar.
    static func isTokenChar(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return Array("!#$%&'*+-.^_`|~".utf8).contains(c)
        }
    }

    /// Decodes %XX escapes of one path segment; nil for a malformed escape or a decoded "/"
    /// or NUL (a segment must stay one segment).
    public static func percentDecode(_ s: Substring) -> [UInt8]? {
        let b = Array(s.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(b.count)
        var i = 0
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 65...70: return c - 55
            case 97...102: return c - 87
            default: return nil
            }
        }
        while i < b.count {
            if b[i] == UInt8(ascii: "%") {
                guard i + 2 < b.count, let h = hex(b[i + 1]), let l = hex(b[i + 2]) else { return nil }
                let v = h << 4 | l
                if v == UInt8(ascii: "/") || v == 0 { return nil }
                out.append(v)
                i += 3
            } else {
                out.append(b[i])
                i += 1
            }
        }
        return out
    }
}

private extension StringProtocol {
    func trimmingCharacters(in set: String) -> String {
        let chars = Set(set.utf8)
        var u = Substring(self).utf8[...]
        while let f = u.first, chars.contains(f) { u = u.dropFirst() }
        while let l = u.last, chars.contains(l) { u = u.dropLast() }
        return String(decoding: u, as: UTF8.self)
    }
}
