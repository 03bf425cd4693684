import Synchronization

/// Runs work while watching a progress counter in real time: when the counter stands still
/// for a whole `stallLimit`, answers `stalled()` instead, and cancels the work (which may
/// never return: an await on an answer that is not coming is what a watchdog is for).
package enum Watchdog {
    package static func guarded<T: Sendable>(stallLimit: Duration, progress: @escaping @Sendable () -> Int,
                                             stalled: @escaping @Sendable () -> T,
                                             work: @escaping @Sendable () async -> T) async -> T {
        let once = Once<T>()
        return await withCheckedContinuation { k in
            once.wait(k)
            let worker = Task { once.answer(await work()) }
            once.watch(Task {
                var seen = progress()
                while !Task.isCancelled {
                    try? await Task.sleep(for: stallLimit)
                    guard !Task.isCancelled else { return }
                    let now = progress()
                    if now == seen {
                        worker.cancel()
                        once.answer(stalled())
                        return
                    }
                    seen = now
                }
            })
        }
    }

    /// The first answer wins and stops the watcher; a later one is dropped.
    private final class Once<T: Sendable>: Sendable {
        private let state = Mutex<(answer: CheckedContinuation<T, Never>?, watcher: Task<Void, Never>?, done: Bool)>((nil, nil, false))

        func wait(_ k: CheckedContinuation<T, Never>) { state.withLock { $0.answer = k } }

        func watch(_ watcher: Task<Void, Never>) {
            // The work may have answered already: then nobody else would stop the watcher.
            if state.withLock({ s in s.done ? true : { s.watcher = watcher; return false }() }) { watcher.cancel() }
        }

        func answer(_ value: T) {
            let (k, watcher) = state.withLock { s in
                defer { s = (nil, nil, true) }
                return (s.answer, s.watcher)
            }
            watcher?.cancel()
            k?.resume(returning: value)
        }
    }
}
