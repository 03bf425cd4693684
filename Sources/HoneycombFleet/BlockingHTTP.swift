import Foundation

/// One keep-alive HTTP/1.1 connection over a blocking socket, for the load generator's
/// submitters: each runs on a thread of its own, so the load costs the machine little more than
/// its system calls and leaves the cores to the service being measured.
final class BlockingHTTPConnection {
    private let host: String
    private let port: UInt16
    private var fd: Int32 = -1
    private var buffer = [UInt8](repeating: 0, count: 65536)
    private var pending: [UInt8] = []

    init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    deinit { if fd >= 0 { close(fd) } }

    private func connect() throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw APIError(status: 0, detail: "socket: \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var timeout = timeval(tv_sec: 30, tv_usec: 0)  // a hung server must not hang the benchmark
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else { throw APIError(status: 0, detail: "not an IPv4 address: \(host)") }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            let why = String(cString: strerror(errno))
            close(fd)
            fd = -1
            throw APIError(status: 0, detail: "connect \(host):\(port): \(why)")
        }
        pending = []
    }

    /// Sends a request and returns the status and body; reconnects once if the server had
    /// closed the idle connection.
    func send(method: String, path: String, headers: [String: String], body: [UInt8]) throws -> (Int, [UInt8]) {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nContent-Length: \(body.count)\r\n"
        for (k, v) in headers { head += "\(k): \(v)\r\n" }
        let request = Array((head + "\r\n").utf8) + body
        // Only a request that could not be written on a reused connection (the server closed
        // it while idle) is sent again; once written, a failure is reported, never repeated,
        // so a submission is never made twice.
        let reused = fd >= 0
        if fd < 0 { try connect() }
        do {
            try write(request)
        } catch {
            close(fd)
            fd = -1
            guard reused else { throw error }
            try connect()
            try write(request)
        }
        do {
            return try readResponse()
        } catch {
            close(fd)
            fd = -1
            throw error
        }
    }

    private func write(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw APIError(status: 0, detail: "send: \(String(cString: strerror(errno)))") }
            sent += n
        }
    }

    private func fill() throws {
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { throw APIError(status: 0, detail: n == 0 ? "connection closed" : String(cString: strerror(errno))) }
        pending.append(contentsOf: buffer[0..<n])
    }

    private func readResponse() throws -> (Int, [UInt8]) {
        var end: Int?
        while end == nil {
            if let r = Self.headerEnd(pending) { end = r } else { try fill() }
        }
        let head = String(decoding: pending[0..<end!], as: UTF8.self)
        let lines = head.split(separator: "\r\n")
        guard let status = lines.first?.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else {
            throw APIError(status: 0, detail: "not an HTTP response")
        }
        var length = 0
        for line in lines.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "content-length" {
                length = Int(parts[1].trimmingCharacters(in: .whitespaces)) ?? 0
            }
        }
        let bodyStart = end! + 4
        while pending.count < bodyStart + length { try fill() }
        let body = Array(pending[bodyStart..<(bodyStart + length)])
        pending.removeFirst(bodyStart + length)
        return (status, body)
    }

    private static func headerEnd(_ b: [UInt8]) -> Int? {
        guard b.count >= 4 else { return nil }
        for i in 0...(b.count - 4) where b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 { return i }
        return nil
    }
}
