import Foundation
import HoneycombLive
@testable import HoneycombServer
import HoneycombAPI
import Synchronization
import Testing

/// Hostile and careless clients, on raw sockets against `honeycomb serve` as a process: idle
/// connections, headers sent in part, bodies trickled, more connections than the cap, and a
/// flood of half-open connections whose memory must come back.
@Suite(.enabled(if: LiveEnvironment.available, "servers not started: run the README's test command"), .serialized)
struct ConnectionTests {
    /// One TCP connection to 127.0.0.1, non-blocking once connected.
    struct Socket: Sendable {
        let fd: Int32

        static func open(_ port: Int) throws -> Socket {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw LiveEnvironment.Failure("socket: errno \(errno)") }
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = UInt16(port).bigEndian
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard rc == 0 else {
                let e = errno
                Glibc.close(fd)
                throw LiveEnvironment.Failure("connect to :\(port): errno \(e)")
            }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            return Socket(fd: fd)
        }

        @discardableResult
        func send(_ text: String) -> Bool {
            let bytes = Array(text.utf8)
            return bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } == bytes.count
        }

        /// Reads what arrives for `seconds` or until the server closes: the bytes, and whether
        /// it closed (end of stream or reset).
        /// What arrives within `seconds` (or until `marker`), and whether the peer closed.
        /// The wait runs on a thread of its own, never on Swift's cooperative pool: a poll of
        /// seconds there held one of its two threads on this machine, and the live tests beside
        /// it (executors heartbeating every 0.3 s against a 1.5 s timeout) saw a heartbeat
        /// gap of 2.1 s and lost an executor.
        func read(for seconds: Double, untilContains marker: String? = nil) async -> (text: String, closed: Bool) {
            await withCheckedContinuation { done in
                DispatchQueue.global().async { done.resume(returning: readBlocking(for: seconds, untilContains: marker)) }
            }
        }

        /// Whether the peer has closed, without waiting (a single non-blocking look).
        var closedNow: Bool { readBlocking(for: 0, untilContains: nil).closed }

        private func readBlocking(for seconds: Double, untilContains marker: String?) -> (text: String, closed: Bool) {
            let deadline = Date().addingTimeInterval(seconds)
            var got: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 4096)
            while true {
                var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                _ = poll(&p, 1, Int32(max(0, deadline.timeIntervalSinceNow * 1000)))
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                if n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                    return (String(decoding: got, as: UTF8.self), true)
                }
                if n > 0 {
                    got += buffer[0..<n]
                    if let marker, String(decoding: got, as: UTF8.self).contains(marker) { return (String(decoding: got, as: UTF8.self), false) }
                } else if deadline.timeIntervalSinceNow <= 0 {
                    return (String(decoding: got, as: UTF8.self), false)
                }
            }
        }

        func close() { Glibc.close(fd) }
    }

    static func elapsed(_ start: Date) -> Double { Date().timeIntervalSince(start) }

    static let floodIdle = 5

    static let getHealth = "GET /healthz HTTP/1.1\r\nHost: honeycomb\r\n\r\n"

    @Test func idleHalfSentAndTrickledConnectionsAreClosedByTheirTimeouts() async throws {
        let serve = try await ServeProcess.prepare("conn")
        let port = ServeProcess.freePort()
        let server = try await serve.start(port: port, ["--idle-timeout", "1", "--body-timeout", "2"])
        defer { server.terminate(); server.waitUntilExit() }

        // A connection that sends nothing is closed after about a second, not before.
        var start = Date()
        let idle = try Socket.open(port)
        defer { idle.close() }
        let early = await idle.read(for: 0.5)
        #expect(!early.closed, "closed at once: the idle timeout is 1 s")
        let quiet = await idle.read(for: 5)
        #expect(quiet.closed, "an idle connection was held for \(Self.elapsed(start)) s")

        // Headers sent in part, then nothing.
        start = Date()
        let half = try Socket.open(port)
        defer { half.close() }
        half.send("GET /healthz HTTP/1.1\r\nHost: honeycomb\r\nX-Wait: ")
        #expect(await half.read(for: 5).closed, "half-sent headers held the connection \(Self.elapsed(start)) s")

        // A keep-alive connection after its answer.
        let kept = try Socket.open(port)
        defer { kept.close() }
        kept.send(Self.getHealth)
        let answer = await kept.read(for: 5, untilContains: "\"ok\"")
        #expect(answer.text.hasPrefix("HTTP/1.1 200"), "answered \(answer.text)")
        start = Date()
        #expect(await kept.read(for: 5).closed, "an idle keep-alive connection was held \(Self.elapsed(start)) s")

        // Headers in full, the body never: the idle timeout closes it as well.
        let token = try serve.token("alice", .user)
        let post = "POST /v1/tasks HTTP/1.1\r\nHost: honeycomb\r\nAuthorization: Bearer \(token)\r\n"
            + "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        let stalled = try Socket.open(port)
        defer { stalled.close() }
        stalled.send(post)
        #expect(await stalled.read(for: 5).closed, "a body that never came held its connection")

        // A body trickled a byte every 0.25 s (each within the idle timeout): 408 after the
        // 2 s body timeout, and the connection closed without reading the rest.
        start = Date()
        let slow = try Socket.open(port)
        defer { slow.close() }
        slow.send(post)
        var text = ""
        var closed = false
        while Self.elapsed(start) < 10, !closed {
            slow.send(" ")
            let r = await slow.read(for: 0.25)
            text += r.text
            closed = r.closed
        }
        #expect(text.hasPrefix("HTTP/1.1 408"), "a trickled body was answered \(text.prefix(200))")
        #expect(text.contains("did not arrive within"), "\(text)")
        #expect(closed && Self.elapsed(start) < 5, "closed \(closed) after \(Self.elapsed(start)) s")

        // The service is unharmed.
        let health = try await serve.client(port: port).send("GET", "/healthz")
        #expect(health.status == 200)
    }

    @Test func beyondTheConnectionCapNewConnectionsWaitUntilOthersClose() async throws {
        let serve = try await ServeProcess.prepare("cap")
        let port = ServeProcess.freePort()
        let server = try await serve.start(port: port, ["--max-connections", "8", "--idle-timeout", "20"])
        defer { server.terminate(); server.waitUntilExit() }

        // Eight kept-alive connections, each answered (so each is accepted and counted).
        var held: [Socket] = []
        defer { held.forEach { $0.close() } }
        for _ in 0..<8 {
            let s = try Socket.open(port)
            s.send(Self.getHealth)
            let r = await s.read(for: 5, untilContains: "\"ok\"")
            #expect(r.text.hasPrefix("HTTP/1.1 200"))
            held.append(s)
        }
        // The ninth is queued by the kernel, not served.
        let ninth = try Socket.open(port)
        defer { ninth.close() }
        ninth.send(Self.getHealth)
        let waiting = await ninth.read(for: 1.5, untilContains: "\"ok\"")
        #expect(waiting.text.isEmpty, "the ninth connection was served past the cap of 8: \(waiting.text)")
        // Two close: it is served.
        held.removeLast().close()
        held.removeLast().close()
        let served = await ninth.read(for: 5, untilContains: "\"ok\"")
        #expect(served.text.hasPrefix("HTTP/1.1 200"), "once under the cap: \(served.text)")
    }
}

/// The flood of half-open connections, apart from every other test: opening 5,000 sockets
/// and polling them takes a core and the test process's threads for seconds, and the live
/// tests running beside it have executors heartbeating every 0.3 s against a 1.5 s timeout.
/// (In make test on 2026-12-04, LiveServiceTests' lost-executor test saw its task need a third
/// attempt while this had just started: the likeliest cause, a stalled heartbeat of its second
/// executor.) So it runs only when asked (HONEYCOMB_FLOOD=1), in a `swift test` of its own, as
/// the README's test command does.
@Suite(.enabled(if: LiveEnvironment.available && LiveEnvironment.env["HONEYCOMB_FLOOD"] == "1",
                "the flood runs alone: HONEYCOMB_FLOOD=1, as the README's test command sets"))
struct ConnectionFloodTests {
    typealias Socket = ConnectionTests.Socket
    static func elapsed(_ start: Date) -> Double { ConnectionTests.elapsed(start) }
    static var floodIdle: Int { ConnectionTests.floodIdle }

    /// 5,000 connections with half-sent headers, all closed by the idle timeout; the memory
    /// they took comes back. Prints the figures (the README quotes them).
    @Test func aFloodOfHalfOpenConnectionsIsClosedAndItsMemoryReturned() async throws {
        // The test and the server it spawns each need a descriptor per connection.
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        limit.rlim_cur = limit.rlim_max
        setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        let count = min(5000, Int(limit.rlim_cur) / 2 - 200)

        let serve = try await ServeProcess.prepare("flood")
        let port = ServeProcess.freePort()
        let server = try await serve.start(port: port, ["--idle-timeout", "\(Self.floodIdle)"])
        defer { server.terminate(); server.waitUntilExit() }
        let client = serve.client(port: port)
        for _ in 0..<200 { _ = try await client.send("GET", "/healthz") }
        try await Task.sleep(for: .seconds(1))
        let before = ServeProcess.residentBytes(server.processIdentifier) ?? 0

        let peakRSS = Atomic<Int>(before)
        let pid = server.processIdentifier
        let sampler = Task {
            while !Task.isCancelled {
                peakRSS.max(ServeProcess.residentBytes(pid) ?? 0, ordering: .relaxed)
                try? await Task.sleep(for: .milliseconds(100))
            }
        }
        let start = Date()
        var flood: [Socket] = []
        defer { flood.forEach { $0.close() } }
        let header = "GET /healthz HTTP/1.1\r\nHost: honeycomb\r\nX-Pad: " + String(repeating: "x", count: 2000)
        for _ in 0..<count {
            let s = try Socket.open(port)
            s.send(header)
            flood.append(s)
        }
        let opened = Self.elapsed(start)

        // The server closes every one of them.
        var open = Set(flood.indices)
        while !open.isEmpty, Self.elapsed(start) < 30 {
            for i in open where flood[i].closedNow { open.remove(i) }
            try await Task.sleep(for: .milliseconds(200))
        }
        let closedAfter = Self.elapsed(start)
        sampler.cancel()
        let peak = peakRSS.load(ordering: .relaxed)
        #expect(open.isEmpty, "\(open.count) of \(count) half-open connections still open after \(closedAfter) s")
        // Still serving, and the memory back within 16 MB of where it started.
        #expect(try await client.send("GET", "/healthz").status == 200)
        // Two of serve's memory trims (every 5 s) later.
        try await Task.sleep(for: .seconds(11))
        let after = ServeProcess.residentBytes(server.processIdentifier) ?? Int.max
        func mb(_ b: Int) -> String { String(format: "%.1f MB", Double(b) / 1_048_576) }
        print("flood: \(count) half-open connections opened in \(String(format: "%.1f", opened)) s, closed within \(String(format: "%.1f", closedAfter)) s; "
              + "serve RSS \(mb(before)) before, \(mb(peak)) at the peak, \(mb(after)) after")
        #expect(after <= before + (16 << 20), "RSS \(mb(before)) before the flood, \(mb(peak)) at its peak, \(mb(after)) after")
    }
}
