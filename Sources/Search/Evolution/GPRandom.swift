/// The evolutionary searches draw every random number from the project's seeded generator, so a run is
/// reproducible from its seed and a resumed run replays exactly the proposals of the killed one.
public typealias GPRandom = SeededGenerator
