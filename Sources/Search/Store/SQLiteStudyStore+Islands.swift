import Foundation
import GRDB

/// Migrants in one SQLite file: a barrier is one `BEGIN IMMEDIATE` transaction, so the islands of one machine
/// take turns at it.
extension SQLiteStudyStore {
    public func exchangeMigrants(island: String, generation: Int, outgoing: [OutgoingMigrant]) throws -> [Migrant] {
        try queue.write { db in
            if let taken = try String.fetchOne(
                db, sql: "SELECT migrants FROM immigration WHERE island = ? AND generation = ?", arguments: [island, generation]) {
                let seqs = try Immigration.seqs(from: taken)
                let rows = try Row.fetchAll(db, sql: "SELECT * FROM migrant WHERE seq IN (SELECT value FROM json_each(?))",
                                            arguments: [taken])
                return MigrantSelection.recorded(seqs, among: rows.map(Self.migrant))
            }
            let now = Date().timeIntervalSince1970
            for migrant in outgoing {
                try db.execute(sql: """
                    INSERT INTO migrant (island, generation, population, payload, created_at) VALUES (?, ?, ?, ?, ?)
                    """, arguments: [island, generation, migrant.population, migrant.payload, now])
            }
            let newest = try Row.fetchAll(db, sql: """
                SELECT * FROM migrant m WHERE island != ? AND generation = (
                    SELECT MAX(generation) FROM migrant n WHERE n.island = m.island AND n.population = m.population)
                ORDER BY seq
                """, arguments: [island]).map(Self.migrant)
            var consumed = Set<Int>()
            for list in try String.fetchAll(db, sql: "SELECT migrants FROM immigration WHERE island = ?", arguments: [island]) {
                consumed.formUnion(try Immigration.seqs(from: list))
            }
            let incoming = MigrantSelection.incoming(newestBatches: newest, island: island, consumed: consumed)
            try db.execute(sql: "INSERT INTO immigration (island, generation, migrants, created_at) VALUES (?, ?, ?, ?)",
                           arguments: [island, generation, try TrialColumns.json(incoming.map(\.seq)), now])
            return incoming
        }
    }

    public func migrants() throws -> [Migrant] {
        try queue.read { db in
            guard try db.tableExists("migrant") else { return [] }
            return try Row.fetchAll(db, sql: "SELECT * FROM migrant ORDER BY seq").map(Self.migrant)
        }
    }

    public func immigrations() throws -> [Immigration] {
        try queue.read { db in
            guard try db.tableExists("immigration") else { return [] }
            return try Row.fetchAll(db, sql: "SELECT * FROM immigration ORDER BY island, generation").map { row in
                let list: String = row["migrants"]
                return Immigration(island: row["island"], generation: row["generation"],
                                   migrants: try Immigration.seqs(from: list))
            }
        }
    }

    static func migrant(_ row: Row) -> Migrant {
        Migrant(seq: row["seq"], island: row["island"], generation: row["generation"], population: row["population"],
                payload: row["payload"])
    }
}
