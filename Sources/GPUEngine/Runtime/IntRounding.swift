extension Int {
    /// The smallest multiple of `multiple` that is at least `self` (buffer padding to whole tiles).
    func roundedUp(toMultipleOf multiple: Int) -> Int { (self + multiple - 1) / multiple * multiple }
}
