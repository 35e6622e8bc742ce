import Foundation

/// Slot operations of a session (`PopulationPool`): a candidate enters a slot, or moves to a lower one.
/// Everything a candidate carries from step to step lives in its slices of `params`, `mirror`, `grads`, the
/// moment buffers, its row of `activationIDs` / `parameterCounts` and its two `seeds` words; Z, A, dZ, the
/// partial sums and the row losses are rewritten by every step before they are read.
extension TrainingSession {
    /// Puts a new candidate into slot `k`: its initial parameters and mirror, zero gradients and moments, its
    /// activation row, its seed and the pass at which it enters (its noise and step count start there).
    /// The caller sets the slot's status.
    func fill(slot k: Int, initial: (params: [Float], mirror: [Float]), ids: [Int32], counts: [Int],
              seed32: UInt32, entryPass: UInt32) throws {
        let ps = layout.parameterStride
        try params.upload(initial.params, at: k * ps)
        try mirror.upload(initial.mirror, at: k * layout.mirrorStride)
        for b in [grads, moment1, moment2] { try b.fill(0, k * ps..<(k + 1) * ps) }
        try activationIDs.upload(ids, at: k * slots)
        try parameterCounts.upload(counts.map(Int32.init), at: k * slots)
        try seeds.upload([seed32, entryPass], at: 2 * k)
    }

    /// Copies slot `from`'s candidate into slot `to` (a lower, free one). The caller moves the status.
    func move(slot from: Int, to: Int) throws {
        let ps = layout.parameterStride, ms = layout.mirrorStride
        for b in [params, grads, moment1, moment2] { try b.copy(from: b, sourceOffset: from * ps, to: to * ps, count: ps) }
        try mirror.copy(from: mirror, sourceOffset: from * ms, to: to * ms, count: ms)
        for b in [activationIDs, parameterCounts] { try b.copy(from: b, sourceOffset: from * slots, to: to * slots, count: slots) }
        try seeds.copy(from: seeds, sourceOffset: 2 * from, to: 2 * to, count: 2)
    }
}
