import HoneycombCore
import HoneycombDriver

/// Users of the fuzzed plane: clients that submit under idempotency keys and retry until they
/// are answered (as the API's clients must after a 503), and users who cancel their tasks.
extension FuzzRun {
    struct KeyedRequest {
        var key: IdempotencyKey
        var list: [Submission]
        var tries = 0
        /// Answered once already (its answer lost): the next answer must name the same tasks.
        var answered = false
    }

    func acknowledge(_ id: Int64) {
        if acknowledgedSet.insert(id).inserted { acknowledged.append(id) }
    }

    /// A new keyed submission: one task under a key of its own, or a batch of two to four.
    func submitKeyed(_ template: Submission) async throws {
        keyedCount += 1
        let n = clients.bernoulli(1.0 / 3) ? 2 + clients.integer(below: 3) : 1
        let key: IdempotencyKey = n == 1 ? .task("k\(keyedCount)") : .batch("b\(keyedCount)")
        var s = template
        s.requestHash = "request \(keyedCount)"
        pendingKeyed.append(KeyedRequest(key: key, list: Array(repeating: s, count: n)))
        log("client sends \(n) task\(n == 1 ? "" : "s") under \(key)")
        try await retryKeyed()
    }

    /// Sends every unanswered keyed submission again, oldest first. A refusal because the
    /// store did not confirm is retried next step; any other refusal is a violation, since
    /// these clients never reuse a key.
    func retryKeyed() async throws {
        var k = 0
        while k < pendingKeyed.count, loop != nil {
            pendingKeyed[k].tries += 1
            let r = pendingKeyed[k]
            let answer: [Submitted]
            do {
                answer = try await plane.submit(r.list, key: r.key)
            } catch let refusal as PlaneRefusal where refusal == .storeUnavailable || refusal == .stopped {
                log("submission \(r.key): refused: \(refusal)")
                await noticeStoppedLoop()
                k += 1
                continue
            } catch {
                throw violation("idempotent submission", "\(r.key) (try \(r.tries)) was refused: \(error)")
            }
            try await checkKeyed(r, answer)
            if !r.answered, clients.bernoulli(0.2) {
                // The answer is lost on its way back: the client sends the same request again.
                pendingKeyed[k].answered = true
                log("submission \(r.key): the answer is lost on the way; the client sends it again")
                k += 1
            } else {
                pendingKeyed.remove(at: k)
            }
        }
    }

    /// A keyed answer names, for each of its keys, the one task stored under it: the same
    /// task whenever that key is answered.
    func checkKeyed(_ r: KeyedRequest, _ answer: [Submitted]) async throws {
        let rows = await store.tasks
        let keys = r.key.keys(count: r.list.count)
        guard answer.count == keys.count else {
            throw violation("idempotent submission", "\(r.key): \(keys.count) tasks sent, \(answer.count) answered")
        }
        for (key, t) in zip(keys, answer) {
            if let earlier = keyAnswers[key], earlier != t.id || !t.existing {
                throw violation("idempotent submission", "key \"\(key)\" answered task \(earlier), then task \(t.id)"
                                + (t.existing ? "" : " as new"))
            }
            keyAnswers[key] = t.id
            guard let row = rows[t.id] else {
                throw violation("no accepted task lost", "key \"\(key)\" was answered with task \(t.id), which the store has not")
            }
            guard row.idempotencyKey == key else {
                throw violation("idempotent submission", "key \"\(key)\" was answered with task \(t.id), stored under "
                                + (row.idempotencyKey.map { "\"\($0)\"" } ?? "no key"))
            }
            acknowledge(t.id)
        }
        if r.tries > 1 { keyedRetries += 1 }
        log("submission \(r.key) accepted after \(r.tries) tr\(r.tries == 1 ? "y" : "ies"): "
            + answer.map { "task \($0.id)\($0.existing ? " (existing, \($0.state))" : "")" }.joined(separator: ", "))
        // The store's unique index is the last guard; the ledger is meant to answer first.
        let refused = await store.uniqueViolations
        guard refused == 0 else {
            throw violation("idempotent submission", "the store's unique index refused \(refused) commit(s) of a repeated key: "
                            + "the idempotency ledger let a repeat through")
        }
    }

    /// A user cancels one of the accepted tasks, chosen at random (perhaps one already ended).
    func cancelOne() async throws {
        guard !acknowledged.isEmpty, loop != nil else { return }
        let id = acknowledged[clients.integer(below: acknowledged.count)]
        let answer: String
        do {
            answer = try await plane.cancel(task: id, actor: "user:1")
        } catch let refusal as PlaneRefusal where refusal == .storeUnavailable || refusal == .stopped {
            log("cancel \(id): refused: \(refusal)")
            await noticeStoppedLoop()
            return
        } catch PlaneRefusal.unknownTask {
            // The plane keeps only unfinished tasks: the store must hold this one ended.
            let state = await store.tasks[id]?.stored.state
            guard let state, Self.ended.contains(state) else {
                throw violation("store and plane agree", "cancel of task \(id): the plane knows no such task; the store holds it "
                                + (state ?? "not at all"))
            }
            log("cancel \(id): already \(state)")
            return
        }
        let stored = await store.tasks[id]?.stored.state
        guard answer == stored else {
            throw violation("store and plane agree", "cancel of task \(id) answered \(answer); the store holds \(stored ?? "nothing")")
        }
        cancels += 1
        log("cancel \(id): \(answer)")
    }
}
