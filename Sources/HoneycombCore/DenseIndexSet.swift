/// A set of small non-negative integers with O(1) insert, remove and membership, and
/// iteration over a packed array.
///
/// Iteration order is the order of inserts and swap-removes: it depends only on the sequence
/// of operations, never on hashing, so it is the same in every run.
struct DenseIndexSet: Sendable {
    private(set) var members: [Int32] = []
    private var position: [Int32] = []

    var count: Int { members.count }
    var isEmpty: Bool { members.isEmpty }

    func contains(_ i: Int) -> Bool { i < position.count && position[i] >= 0 }

    mutating func insert(_ i: Int) {
        if i >= position.count { position.append(contentsOf: repeatElement(-1, count: i + 1 - position.count)) }
        guard position[i] < 0 else { return }
        position[i] = Int32(members.count)
        members.append(Int32(i))
    }

    mutating func remove(_ i: Int) {
        guard contains(i) else { return }
        let p = Int(position[i])
        let last = members[members.count - 1]
        members[p] = last
        position[Int(last)] = Int32(p)
        members.removeLast()
        position[i] = -1
    }
}

/// A first-in first-out queue on a growable ring buffer.
public struct FIFO<Element>: Sendable where Element: Sendable {
    @usableFromInline var storage: [Element?] = []
    @usableFromInline var head = 0
    @usableFromInline var _count = 0
    @inlinable public var count: Int { _count }

    public init() {}

    @inlinable public var isEmpty: Bool { count == 0 }
    @inlinable public var first: Element? { count == 0 ? nil : storage[head] }

    @inlinable public mutating func append(_ e: Element) {
        if count == storage.count { grow() }
        var slot = head + count
        if slot >= storage.count { slot -= storage.count }
        storage[slot] = e
        _count += 1
    }

    @inlinable @discardableResult
    public mutating func removeFirst() -> Element {
        precondition(count > 0, "removeFirst on an empty FIFO")
        let e = storage[head].unsafelyUnwrapped
        storage[head] = nil
        head += 1
        if head == storage.count { head = 0 }
        _count -= 1
        return e
    }

    @usableFromInline mutating func grow() {
        var bigger = [Element?](repeating: nil, count: Swift.max(16, storage.count * 2))
        for k in 0..<count { bigger[k] = storage[(head + k) % storage.count] }
        storage = bigger
        head = 0
    }
}
