// The HTTP side of the fuzz target: bytes -> HTTPParser -> HTTPAPI (routing, auth, JSON,
// metrics, the session endpoints' 501) exactly as HTTPServer drives them, minus the socket.
// Selected by mode byte values that were redundant for RESP: bit 3 (maxmemory) clear with
// bits 4-6 (the policy, unused without maxmemory) all set, i.e. `mode & 0x78 == 0x70`.
//   bits 0-1  chunking, as for RESP
//   bit 2     http-auth-token "pw" (so 401 and the bearer check)
// Every body is also given to the JSON reader directly (the session endpoints stop at 501
// before parsing in a build without SESSION.*).

nonisolated(unsafe) private var apis: [UInt8: HTTPAPI] = [:]

func isHTTPMode(_ mode: UInt8) -> Bool { mode & 0x78 == 0x70 }

func fuzzHTTP(_ mode: UInt8, _ state: ServerState, _ bytes: UnsafeRawBufferPointer) {
    let api: HTTPAPI
    if let a = apis[mode & 4] { api = a } else {
        api = HTTPAPI(state: state, authToken: mode & 4 != 0 ? "pw" : nil)
        apis[mode & 4] = api
    }
    var limits = HTTPLimits()
    limits.maxHeaderBytes = 1024
    limits.maxHeaderCount = 16
    limits.maxBodyBytes = 512
    var parser = HTTPParser(limits: limits)
    var buffer: [UInt8] = []
    var pos = 0
    var sizeSeed = mode
    while pos < bytes.count {
        let chunk: Int
        switch mode & 3 {
        case 0: chunk = bytes.count - pos
        case 1: chunk = 1
        case 2: chunk = 7
        default:
            sizeSeed = sizeSeed &* 37 &+ bytes[pos]
            chunk = Int(sizeSeed % 61) + 1
        }
        let n = min(chunk, bytes.count - pos)
        buffer += bytes[pos..<(pos + n)]
        pos += n
        while true {
            switch parser.next(buffer) {
            case .needMore:
                break
            case .error:
                return
            case .request(let request, let consumed):
                buffer.removeFirst(consumed)
                _ = JSONValue.parse(request.body)
                let response = api.handle(request, peer: "127.0.0.1:1")
                _ = response.serialized()
                if !request.keepAlive { return }
                continue
            }
            break
        }
    }
}
