import COpenCL

/// Device memory of released buffers, kept for the next buffer of about the same size.
///
/// Why: PoCL hands out a new buffer's pages lazily, so the first write to each page faults; on the 2-core
/// development machine a first fill ran at about 2 GB/s against 14 GB/s for the same fill again. A trainer
/// that allocates a few hundred megabytes per `train` call (the CNN trainer: weights, moments, feature maps)
/// paid about 0.2 s per call in its first step, every generation of an evolution. Reused memory is already
/// mapped.
///
/// Safety: the device has one in-order queue, so commands of the buffer's new owner run after every command
/// of its old one. Reused memory holds old contents, as a fresh OpenCL buffer may: owners that need zeros
/// fill them. Only buffers made without initial contents are served from the pool.
final class BufferPool: @unchecked Sendable {
    /// Bytes the pool may hold at most.
    let capacity: Int
    private let state = LockedState<(free: [(memory: cl_mem, bytes: Int)], total: Int, hits: Int)>(([], 0, 0))

    init(capacity: Int) { self.capacity = capacity }

    /// Memory of at least `bytes` and at most twice that, or nil.
    func take(bytes: Int) -> cl_mem? {
        state.withLock { s in
            var best: Int?
            for (i, m) in s.free.enumerated() where m.bytes >= bytes && m.bytes <= 2 * bytes {
                if best == nil || m.bytes < s.free[best!].bytes { best = i }
            }
            guard let i = best else { return nil }
            let m = s.free.remove(at: i)
            s.total -= m.bytes
            s.hits += 1
            return m.memory
        }
    }

    /// Keeps `memory` if there is room (evicting the oldest), else releases it.
    func give(_ memory: cl_mem, bytes: Int) {
        let evicted: [cl_mem] = state.withLock { s in
            guard bytes <= capacity else { return [memory] }
            var out: [cl_mem] = []
            while s.total + bytes > capacity, !s.free.isEmpty {
                let m = s.free.removeFirst()
                s.total -= m.bytes
                out.append(m.memory)
            }
            s.free.append((memory, bytes))
            s.total += bytes
            return out
        }
        for m in evicted { clReleaseMemObject(m) }
    }

    /// Buffers served from the pool so far.
    var hits: Int { state.withLock { $0.hits } }
    /// Bytes held now.
    var heldBytes: Int { state.withLock { $0.total } }
}
