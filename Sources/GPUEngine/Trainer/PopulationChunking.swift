/// How many candidates of a population one device pass holds, shared by the MLP and CNN trainers.
///
/// A chunk must fit twice: all its buffers together within the memory budget (default 60 % of the
/// device's global memory), and its largest single buffer within the device's largest allocation.
enum PopulationChunking {
    /// The default budget when the trainer sets none.
    static func budget(_ memoryBudgetBytes: Int?, device: ComputeDevice) -> Int {
        memoryBudgetBytes ?? Int(Double(device.info.globalMemoryBytes) * 0.6)
    }

    /// Candidates per chunk (at most `population`), or nil when not even one candidate fits.
    static func size(budget: Int, device: ComputeDevice, bytesPerCandidate: Int, largestBufferBytesPerCandidate: Int,
                     maxChunkSize: Int?, population: Int) -> Int? {
        let byMemory = budget / max(bytesPerCandidate, 1)
        let byAllocation = Int(device.info.maxAllocationBytes) / max(largestBufferBytesPerCandidate, 1)
        let fit = min(byMemory, byAllocation, maxChunkSize ?? Int.max)
        return fit >= 1 ? min(fit, population) : nil
    }
}
