/// How a submission asks to be idempotent: one task's key, or a batch's key, whose tasks are
/// keyed "KEY #0", "KEY #1", ... (a space: no single key has one, so the two never collide).
package enum IdempotencyKey: Sendable, Equatable {
    case task(String)
    case batch(String)

    /// The per-task keys of a submission of `count` tasks.
    package func keys(count: Int) -> [String] {
        switch self {
        case .task(let key): [key]
        case .batch(let key): (0..<count).map { "\(key) #\($0)" }
        }
    }
}

/// A task stored under an idempotency key: what a repeat is answered with.
package struct KeyedTask: Sendable, Equatable {
    package var id: Int64
    package var requestHash: String?
    package var state: String
    package init(id: Int64, requestHash: String?, state: String) {
        self.id = id
        self.requestHash = requestHash
        self.state = state
    }
}

/// The one place idempotency keys are checked. A key is looked up in the store before its
/// submission is queued (repeats of anything committed, by this leader or an earlier one),
/// and in the keys of batches not yet committed (a repeat that arrives while its first is
/// still in flight). The store's unique index on (user, key) is the last guard.
struct IdempotencyLedger {
    /// Keys (`user:key`) accepted in batches not yet known to be committed, newest last, at
    /// most 100,000.
    private var recent: [String: (id: Int64, request: String)] = [:]
    private var order: [String] = []

    private static func scoped(_ s: Submission) -> String? { s.idempotencyKey.map { "\(s.userID):\($0)" } }

    /// The task a keyed submission already made in a batch of this leader.
    func earlier(_ s: Submission) -> (id: Int64, request: String)? { Self.scoped(s).flatMap { recent[$0] } }

    /// True when a key of the list was used before for another request.
    func reused(in list: [Submission]) -> Submission? {
        list.first { s in earlier(s).map { $0.request != s.requestHash } ?? false }
    }

    mutating func remember(_ s: Submission, id: Int64) {
        guard let key = Self.scoped(s) else { return }
        recent[key] = (id, s.requestHash)
        order.append(key)
    }

    /// Forgets the oldest keys, only between batches: a key is never forgotten before its
    /// batch is committed (else a repeat in the same batch would reach the unique index).
    mutating func forgetOld() {
        guard order.count > 100_000 else { return }
        for k in order.prefix(order.count - 90_000) { recent[k] = nil }
        order.removeFirst(order.count - 90_000)
    }

    /// The answer to a repeat from what the store holds under the list's keys (`found`, which
    /// was asked also for one key past a batch's last, to catch a larger earlier batch): nil
    /// when none was stored; the earlier tasks when all were, for the same requests; a
    /// refusal when only some were, or for other requests.
    static func repeatOf(_ list: [Submission], key: IdempotencyKey, found: [String: KeyedTask]) throws -> [Submitted]? {
        guard !found.isEmpty else { return nil }
        guard found.count == list.count, list.allSatisfy({ $0.idempotencyKey.map { found[$0] != nil } ?? false }) else {
            guard case .batch(let base) = key else { throw PlaneRefusal.keyReused(list[0].idempotencyKey ?? "") }
            throw PlaneRefusal.keyReusedForBatch(base)
        }
        return try list.map { s in
            let earlier = found[s.idempotencyKey!]!
            guard earlier.requestHash == s.requestHash else { throw PlaneRefusal.keyReused(s.idempotencyKey!) }
            return Submitted(id: earlier.id, existing: true, state: earlier.state)
        }
    }
}
