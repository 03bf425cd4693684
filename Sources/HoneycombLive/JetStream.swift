import CNats
import Foundation
import Synchronization

/// An error from NATS or JetStream: what was being done and cnats's reason.
public struct NatsError: Error, CustomStringConvertible, Sendable {
    public var description: String

    init(_ what: String, _ status: natsStatus, _ jsCode: jsErrCode = jsErrCode(rawValue: 0)) {
        var detail = String(cString: natsStatus_GetText(status))
        var last = status
        if let text = nats_GetLastError(&last), text.pointee != 0 { detail = String(cString: text) }
        if jsCode.rawValue != 0 { detail += " (JetStream error \(jsCode.rawValue))" }
        description = "\(what): \(detail)"
    }
}

/// One message to publish to JetStream.
public struct OutgoingMessage: Sendable {
    public var subject: String
    public var payload: [UInt8]
    /// JetStream drops a second message with the same id within the stream's duplicate window.
    public var id: String

    public init(subject: String, payload: [UInt8], id: String) {
        self.subject = subject
        self.payload = payload
        self.id = id
    }
}

/// A connection to NATS with its JetStream context, through cnats.
///
/// cnats runs its own threads for the socket and for callbacks; the calls here that wait on
/// the server (creating streams, waiting for publish acks) run on this connection's serial
/// dispatch queue, never on Swift's cooperative pool.
public final class JetStreamConnection: @unchecked Sendable {
    // @unchecked: cnats's connection and context are thread-safe; the failure tally is a Mutex.
    private let nc: OpaquePointer
    private let js: OpaquePointer
    private let queue = DispatchQueue(label: "honeycomb.nats")
    private let failures: Unmanaged<PublishFailures>

    final class PublishFailures: Sendable {
        let state = Mutex<(count: Int, last: String)>((0, ""))
    }

    /// Connects from a dispatch thread: the connect blocks, and must not hold the
    /// cooperative pool.
    public static func connect(url: String, name: String = "honeycomb") async throws -> JetStreamConnection {
        try await withCheckedThrowingContinuation { k in
            DispatchQueue.global().async { k.resume(with: Result { try JetStreamConnection(url: url, name: name) }) }
        }
    }

    /// Connects to `url` (`nats://127.0.0.1:4222`) on the calling thread (it blocks; from
    /// async code use `connect`).
    public init(url: String, name: String = "honeycomb") throws {
        var opts: OpaquePointer?
        var s = natsOptions_Create(&opts)
        guard s == NATS_OK, let opts else { throw NatsError("cannot create NATS options", s) }
        defer { natsOptions_Destroy(opts) }
        natsOptions_SetURL(opts, url)
        natsOptions_SetName(opts, name)
        natsOptions_SetTimeout(opts, 2000)
        natsOptions_SetMaxReconnect(opts, -1)
        // Callbacks of all subscriptions share cnats's small delivery pool, not a thread each.
        natsOptions_UseGlobalMessageDelivery(opts, true)
        var conn: OpaquePointer?
        s = natsConnection_Connect(&conn, opts)
        guard s == NATS_OK, let conn else { throw NatsError("cannot connect to NATS at \(url)", s) }
        nc = conn

        failures = Unmanaged.passRetained(PublishFailures())
        var jsOpts = jsOptions()
        jsOptions_Init(&jsOpts)
        jsOpts.Wait = 5000
        jsOpts.PublishAsync.MaxPending = 65536
        jsOpts.PublishAsync.ErrHandlerClosure = failures.toOpaque()
        jsOpts.PublishAsync.ErrHandler = { _, err, closure in
            guard let err, let closure else { return }
            let text = err.pointee.ErrText.map { String(cString: $0) } ?? String(cString: natsStatus_GetText(err.pointee.Err))
            Unmanaged<PublishFailures>.fromOpaque(closure).takeUnretainedValue().state.withLock { $0 = ($0.count + 1, text) }
        }
        var ctx: OpaquePointer?
        s = natsConnection_JetStream(&ctx, conn, &jsOpts)
        guard s == NATS_OK, let ctx else {
            natsConnection_Destroy(conn)
            failures.release()
            throw NatsError("cannot open a JetStream context", s)
        }
        js = ctx
    }

    deinit {
        jsCtx_Destroy(js)
        natsConnection_Close(nc)
        natsConnection_Destroy(nc)
        failures.release()
    }

    /// True while the connection is up.
    public var isConnected: Bool { natsConnection_Status(nc) == NATS_CONN_STATUS_CONNECTED }

    /// Creates the stream, or updates it to this configuration if it exists. A work-queue
    /// stream keeps each message until one consumer acknowledges it.
    public func ensureStream(name: String, subjects: [String], duplicateWindow: TimeInterval = 120,
                             maxAge: TimeInterval = 7 * 86400) async throws {
        try await onQueue {
            var cfg = jsStreamConfig()
            jsStreamConfig_Init(&cfg)
            var cSubjects = subjects.map { UnsafePointer(strdup($0)) }
            defer { cSubjects.forEach { free(UnsafeMutablePointer(mutating: $0)) } }
            let status: natsStatus = name.withCString { cName in
                cSubjects.withUnsafeMutableBufferPointer { subs in
                    cfg.Name = cName
                    cfg.Subjects = subs.baseAddress
                    cfg.SubjectsLen = Int32(subs.count)
                    cfg.Retention = js_WorkQueuePolicy
                    cfg.Storage = js_FileStorage
                    cfg.Duplicates = Int64(duplicateWindow * 1e9)
                    cfg.MaxAge = Int64(maxAge * 1e9)
                    var code = jsErrCode(rawValue: 0)
                    var s = js_AddStream(nil, self.js, &cfg, nil, &code)
                    if s != NATS_OK && code == JSStreamNameExistErr {
                        s = js_UpdateStream(nil, self.js, &cfg, nil, &code)
                    }
                    return s
                }
            }
            guard status == NATS_OK else { throw NatsError("cannot create the stream \(name)", status) }
        }
    }

    /// Publishes `messages` and waits until JetStream has stored every one. Safe to repeat
    /// after a failure: each message's id makes a second copy a no-op.
    public func publish(_ messages: [OutgoingMessage], timeout: TimeInterval = 5) async throws {
        guard !messages.isEmpty else { return }
        try await onQueue {
            let before = self.failures.takeUnretainedValue().state.withLock { $0.count }
            for m in messages {
                var opts = jsPubOptions()
                jsPubOptions_Init(&opts)
                let s: natsStatus = m.id.withCString { id in
                    opts.MsgId = id
                    return m.payload.withUnsafeBytes { p in
                        js_PublishAsync(self.js, m.subject, p.baseAddress, Int32(p.count), &opts)
                    }
                }
                guard s == NATS_OK else { throw NatsError("cannot publish to \(m.subject)", s) }
            }
            var wait = jsPubOptions()
            jsPubOptions_Init(&wait)
            wait.MaxWait = Int64(timeout * 1000)
            let s = js_PublishAsyncComplete(self.js, &wait)
            guard s == NATS_OK else {
                // Drop what still waits for an acknowledgement: the caller sends the whole batch
                // again (message ids make repeats harmless). Left pending, a message whose ack was
                // lost with the connection (NATS restarted under it) is never answered, and every
                // later completion would wait for it until its timeout: seen in ChaosTests as
                // dispatch slowed to a trickle for over a minute after NATS came back.
                var pending = natsMsgList()
                if js_PublishAsyncGetPendingList(&pending, self.js) == NATS_OK { natsMsgList_Destroy(&pending) }
                throw NatsError("JetStream did not acknowledge \(messages.count) messages in time", s)
            }
            let (after, last) = self.failures.takeUnretainedValue().state.withLock { ($0.count, $0.last) }
            if after > before {
                throw NatsError("JetStream refused \(after - before) of \(messages.count) messages: \(last)", NATS_ERR)
            }
        }
    }

    /// Subscribes to `subject` through a durable push consumer named `durable`, with manual
    /// acknowledgement: a message not acknowledged within `ackWait` is delivered again, at
    /// most `maxDeliver` times (-1: until acknowledged). `handler` runs on cnats's delivery threads.
    public func subscribe(stream: String, subject: String, durable: String, ackWait: TimeInterval = 30,
                          maxDeliver: Int = -1,
                          handler: @escaping @Sendable (JetStreamDelivery) -> Void) async throws -> JetStreamSubscription {
        let box = Unmanaged.passRetained(HandlerBox(handler, acks: queue))
        do {
            let sub = try await onQueue { () -> SubscriptionHandle in
                var opts = jsSubOptions()
                jsSubOptions_Init(&opts)
                var sub: OpaquePointer?
                var code = jsErrCode(rawValue: 0)
                let s: natsStatus = stream.withCString { cStream in
                    durable.withCString { cDurable in
                        subject.withCString { cSubject in
                            opts.Stream = cStream
                            opts.ManualAck = true
                            opts.Config.Durable = cDurable
                            opts.Config.FilterSubject = cSubject
                            opts.Config.AckPolicy = js_AckExplicit
                            opts.Config.AckWait = Int64(ackWait * 1e9)
                            opts.Config.MaxDeliver = Int64(maxDeliver)
                            opts.Config.MaxAckPending = 4096
                            return js_Subscribe(&sub, self.js, cSubject, { _, _, msg, closure in
                                guard let msg, let closure else { return }
                                let box = Unmanaged<HandlerBox>.fromOpaque(closure).takeUnretainedValue()
                                box.handler(JetStreamDelivery(msg, acks: box.acks))
                            }, box.toOpaque(), nil, &opts, &code)
                        }
                    }
                }
                guard s == NATS_OK, let sub else { throw NatsError("cannot subscribe to \(subject)", s, code) }
                return SubscriptionHandle(pointer: sub)
            }
            return JetStreamSubscription(sub.pointer, box)
        } catch {
            box.release()
            throw error
        }
    }

    private struct SubscriptionHandle: @unchecked Sendable { let pointer: OpaquePointer }

    final class HandlerBox: Sendable {
        let handler: @Sendable (JetStreamDelivery) -> Void
        let acks: DispatchQueue
        init(_ handler: @escaping @Sendable (JetStreamDelivery) -> Void, acks: DispatchQueue) {
            self.handler = handler
            self.acks = acks
        }
    }

    private func onQueue<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { k in queue.async { k.resume(with: Result { try body() }) } }
    }
}

/// A live subscription; `close()` stops deliveries (the durable consumer stays on the server).
public final class JetStreamSubscription: @unchecked Sendable {
    // @unchecked: closed once, under the lock.
    private let sub: OpaquePointer
    private let closed = Mutex(false)
    private let box: Unmanaged<JetStreamConnection.HandlerBox>

    init(_ sub: OpaquePointer, _ box: Unmanaged<JetStreamConnection.HandlerBox>) {
        self.sub = sub
        self.box = box
    }

    /// Stops deliveries. Messages not yet acknowledged go back to the stream for redelivery.
    public func close() {
        let first = closed.withLock { c in defer { c = true }; return !c }
        guard first else { return }
        natsSubscription_Unsubscribe(sub)
    }

    deinit {
        close()
        natsSubscription_Destroy(sub)
        box.release()
    }
}

/// One delivered message. Acknowledge, refuse or terminate it exactly once; it is freed when
/// this value is.
public final class JetStreamDelivery: @unchecked Sendable {
    // @unchecked: cnats's acknowledgement calls are thread-safe; the message is freed in deinit.
    private let msg: OpaquePointer
    /// Acknowledgements go out from the connection's queue, never from the caller's thread
    /// (which may be the cooperative pool's).
    private let acks: DispatchQueue
    public let subject: String
    public let payload: [UInt8]
    /// 1 the first time, more on redeliveries.
    public let deliveryCount: Int

    init(_ msg: OpaquePointer, acks: DispatchQueue) {
        self.msg = msg
        self.acks = acks
        subject = String(cString: natsMsg_GetSubject(msg))
        let n = Int(natsMsg_GetDataLength(msg))
        payload = n == 0 ? [] : natsMsg_GetData(msg).withMemoryRebound(to: UInt8.self, capacity: n) {
            Array(UnsafeBufferPointer(start: $0, count: n))
        }
        var meta: UnsafeMutablePointer<jsMsgMetaData>?
        if natsMsg_GetMetaData(&meta, msg) == NATS_OK, let meta {
            deliveryCount = Int(meta.pointee.NumDelivered)
            jsMsgMetaData_Destroy(meta)
        } else {
            deliveryCount = 1
        }
    }

    deinit { natsMsg_Destroy(msg) }

    /// Done with: JetStream removes it.
    public func ack() { acks.async { natsMsg_Ack(self.msg, nil) } }
    /// Not now: deliver it again (after `delay` seconds).
    public func nak(delay: TimeInterval = 0) { acks.async { natsMsg_NakWithDelay(self.msg, Int64(delay * 1000), nil) } }
    /// Never: do not deliver it again.
    public func term() { acks.async { natsMsg_Term(self.msg, nil) } }
}
