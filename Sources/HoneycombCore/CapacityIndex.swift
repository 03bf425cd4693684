/// What a bucket index groups executors by: at least their label class, which selectors
/// are checked against once per class.
protocol BucketKey: Hashable, Sendable {
    var labelClass: Int32 { get }
}

/// What placement reads of a schedulable executor (online, with a free slot): label class,
/// owner, exclusivity, capacity and usage. Executors with one key are alike to placement
/// except by identity and age.
struct CapacityKey: BucketKey {
    var labelClass: Int32
    var owner: TenantID
    var exclusive: Bool
    var capacity: Resources
    var used: Resources
}

/// What preemption and rebalancing read of an online executor that holds work: label class,
/// owner, exclusivity, capacity, and the lowest priority it runs (nothing below that can be
/// evicted from it).
struct WorkKey: BucketKey {
    var labelClass: Int32
    var owner: TenantID
    var exclusive: Bool
    var capacity: Resources
    var lowestPriority: Int8
}

/// The schedulable executors, bucketed by `CapacityKey`.
///
/// Every filter but affinity and every score but reliability is a function of the bucket, so
/// the scheduler decides per bucket, not per executor: a placement costs the number of
/// non-empty buckets, which depends on how many shapes of executor and of task there are —
/// not on how many executors. (A fleet of laptops of one kind running tasks of two sizes
/// fills a handful of buckets, whether it has a thousand laptops or a million.)
typealias CapacityIndex = BucketIndex<CapacityKey>

/// Executors grouped into buckets by a key, kept incrementally: an executor moves between
/// buckets in O(1) when its key changes (a task starts or ends on it, it comes or goes).
///
/// Iteration orders (buckets of a class, members of a bucket) follow the sequence of inserts
/// and swap-removes, never hashing: the same in every run.
struct BucketIndex<Key: BucketKey>: Sendable {
    /// Each bucket's key and members.
    private(set) var keys: [Key] = []
    private(set) var members: [[Int32]] = []
    private var lookup: [Key: Int32] = [:]
    /// Buckets reached from each bucket before (a task started or ended, the executor came
    /// back): the common moves, found without hashing a key.
    private var neighbours: [[Int32]] = []
    /// The non-empty buckets of each label class.
    private(set) var active: [[Int32]] = []
    /// Each bucket's position in its class's `active` list (-1: empty).
    private var activePosition: [Int32] = []
    /// Each executor's bucket: the one it is in or, out of the index, the one it was last in
    /// (-1: never in one), where one that left (its last slot taken) most often returns (a
    /// slot freed), found without hashing a key.
    private var bucketOf: [Int32] = []
    /// Each executor's position among its bucket's members (-1: not in the index).
    private var position: [Int32] = []
    /// Executors in the index.
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    /// A word of no meaning read from what `update` of executor `e` reads first (see
    /// `ControlPlane.readAhead`).
    func readAhead(_ e: Int) -> UInt32 {
        e >= 0 && e < position.count && e < bucketOf.count ? UInt32(bitPattern: bucketOf[e] ^ position[e]) : 0
    }

    /// The bucket executor `e` is in, or -1.
    func bucket(of e: Int) -> Int { e < position.count && position[e] >= 0 ? Int(bucketOf[e]) : -1 }

    /// Where executor `e` stands among its bucket's members.
    func position(of e: Int) -> Int { Int(position[e]) }

    /// Puts executor `e` in the bucket of `key`, or takes it out of the index (`nil`).
    mutating func update(_ e: Int, _ key: Key?) {
        if e >= bucketOf.count {
            let n = e + 1 - bucketOf.count
            bucketOf.append(contentsOf: repeatElement(-1, count: n))
            position.append(contentsOf: repeatElement(-1, count: n))
        }
        let last = Int(bucketOf[e]), inIndex = position[e] >= 0
        if let key, inIndex, keys[last] == key { return }
        if inIndex { remove(e, from: last) }
        guard let key else { return }
        if last >= 0 {
            if keys[last] == key { return insert(e, into: last) }
            if let b = neighbours[last].first(where: { keys[Int($0)] == key }) { return insert(e, into: Int(b)) }
        }
        let b = bucketFor(key)
        if last >= 0 && neighbours[last].count < 16 { neighbours[last].append(Int32(b)) }
        insert(e, into: b)
    }

    private mutating func bucketFor(_ key: Key) -> Int {
        if let b = lookup[key] { return Int(b) }
        let b = keys.count
        keys.append(key)
        members.append([])
        neighbours.append([])
        activePosition.append(-1)
        lookup[key] = Int32(b)
        while active.count <= Int(key.labelClass) { active.append([]) }
        return b
    }

    private mutating func insert(_ e: Int, into b: Int) {
        if members[b].isEmpty {
            let c = Int(keys[b].labelClass)
            activePosition[b] = Int32(active[c].count)
            active[c].append(Int32(b))
        }
        bucketOf[e] = Int32(b)
        position[e] = Int32(members[b].count)
        members[b].append(Int32(e))
        count += 1
    }

    private mutating func remove(_ e: Int, from b: Int) {
        let p = Int(position[e])
        let last = members[b][members[b].count - 1]
        members[b][p] = last
        position[Int(last)] = Int32(p)
        members[b].removeLast()
        position[e] = -1
        count -= 1
        if members[b].isEmpty {
            let c = Int(keys[b].labelClass)
            let q = Int(activePosition[b])
            let moved = active[c][active[c].count - 1]
            active[c][q] = moved
            activePosition[Int(moved)] = Int32(q)
            active[c].removeLast()
            activePosition[b] = -1
        }
    }
}
