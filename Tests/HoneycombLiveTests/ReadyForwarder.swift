import Foundation
import HoneycombFleet
import Synchronization

/// What a Kubernetes Service does in front of the replicas, in a test: one address on
/// 127.0.0.1 whose new connections go to a replica that answers `/readyz` with 200 (the active
/// scheduler), or, while none does, to one that is alive at all (a standby, which answers
/// 503). Readiness is probed every 100 ms; a connection already open stays with its replica
/// until one side closes it, as a TCP connection through a Service does.
final class ReadyForwarder: Sendable {
    let port: Int
    private let backends: [Int]
    private let listener: Int32
    private let preferred = Atomic<Int>(0)
    private let open = Mutex<Set<Int32>>([])
    private let stopped = Atomic<Bool>(false)

    init(to backends: [Int]) throws {
        self.backends = backends
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = Self.loopback(0)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        guard withUnsafePointer(to: &addr, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }) == 0,
              listen(fd, 256) == 0 else {
            close(fd)
            throw LiveEnvironment.Failure("the forwarder could not listen: errno \(errno)")
        }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        listener = fd
        port = Int(UInt16(bigEndian: addr.sin_port))
        Thread { [self] in accepting() }.start()
        Task { [self] in await probing() }
    }

    /// Closes the listener and every forwarded connection.
    func stop() {
        stopped.store(true, ordering: .relaxed)
        shutdown(listener, Int32(SHUT_RDWR))
        for fd in open.withLock({ $0 }) { shutdown(fd, Int32(SHUT_RDWR)) }
    }

    private static func loopback(_ port: Int) -> sockaddr_in {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        return addr
    }

    private func probing() async {
        while !stopped.load(ordering: .relaxed) {
            for (i, backend) in backends.enumerated() {
                let probe = APIClient(base: URL(string: "http://127.0.0.1:\(backend)")!)
                if (try? await probe.send("GET", "/readyz"))?.status == 200 {
                    preferred.store(i, ordering: .relaxed)
                    break
                }
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    /// A connection to the ready replica, else to any that accepts one.
    private func connectBackend() -> Int32? {
        let first = preferred.load(ordering: .relaxed)
        for i in [first] + backends.indices.filter({ $0 != first }) {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = Self.loopback(backends[i])
            let ok = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            } == 0
            if ok { return fd }
            close(fd)
        }
        return nil
    }

    private func accepting() {
        while !stopped.load(ordering: .relaxed) {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                break
            }
            guard let server = connectBackend() else { close(client); continue }
            open.withLock { $0.formUnion([client, server]) }
            Thread { [self] in pump(client, server) }.start()
        }
        close(listener)
    }

    /// Copies bytes both ways until either side closes; then closes both.
    private func pump(_ a: Int32, _ b: Int32) {
        var fds = [pollfd(fd: a, events: Int16(POLLIN), revents: 0), pollfd(fd: b, events: Int16(POLLIN), revents: 0)]
        var buffer = [UInt8](repeating: 0, count: 65536)
        loop: while !stopped.load(ordering: .relaxed) {
            guard poll(&fds, 2, 500) >= 0 || errno == EINTR else { break }
            for (from, to) in [(0, 1), (1, 0)] where fds[from].revents != 0 {
                let n = read(fds[from].fd, &buffer, buffer.count)
                guard n > 0 else { break loop }
                var sent = 0
                while sent < n {
                    let w = buffer.withUnsafeBytes { send(fds[to].fd, $0.baseAddress! + sent, n - sent, Int32(MSG_NOSIGNAL)) }
                    guard w > 0 else { break loop }
                    sent += w
                }
            }
        }
        open.withLock { $0.subtract([a, b]) }
        close(a)
        close(b)
    }
}
