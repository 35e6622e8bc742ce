import Foundation

extension EvolutionRun {
    /// The island's barrier after `generation`: every population publishes its `islands.migrants` fittest, and
    /// takes in the migrants of its name that the store hands back (the other islands' newest, or on a replay
    /// exactly those taken before). How a population admits them is its algorithm's rule (`immigrate`): the
    /// (1+λ) ES's parent gives way to a strictly fitter migrant, the GA's worst individuals to fitter ones,
    /// random search's best to a fitter one. Migrants are admitted in population order, each population's in
    /// the store's order, so a replay admits them identically.
    func migrate(after generation: Int, _ islands: IslandSettings) throws -> MigrationRecord {
        guard let store, let islandName else { preconditionFailure("islands need a store and an island") }
        var outgoing: [OutgoingMigrant] = []
        for population in species {
            outgoing += try population.emigrants(islands.migrants).map { OutgoingMigrant(population: population.name, payload: $0) }
        }
        let incoming = try store.exchangeMigrants(island: islandName, generation: generation, outgoing: outgoing)
        var admitted = 0
        for population in species {
            let mine = incoming.filter { $0.population == population.name }
            if !mine.isEmpty { admitted += try population.immigrate(mine) }
        }
        return MigrationRecord(published: outgoing.count, received: incoming.count, admitted: admitted,
                               sources: Array(Set(incoming.map(\.island))).sorted())
    }
}
