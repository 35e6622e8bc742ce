/// The study database's schema: one migration history for both back-ends, each step written side by side for
/// SQLite (one study per file: `study` has the single row `id = 1`) and PostgreSQL (any number of studies in
/// one database: every table is keyed by the study's name). A database records the steps it has applied
/// (GRDB's `grdb_migrations` in SQLite, `afsearch_migrations` in PostgreSQL) and gets the missing ones, in
/// order, when a writer opens it.
///
/// Columns of `trial` (both back-ends): the fields of `TrialRecord`, JSON text for parameters, expressions
/// and metrics; from v2 the claim of a worker (`worker`, `attempts`) and `finished_seq`, the order in which
/// trials finished, which lets a worker read only what finished since it last looked; `claim_key` (unique, set by
/// `claimNew` to the point's parameters) makes two workers that propose the same point at once claim it once.
///
/// From v3 `migrant` holds the individuals islands publish (one row per individual: the island, the generation
/// after which it left, its population, its genome and fitness as JSON); from v4 `trial.island` names the island
/// that evaluated a trial (NULL for a run without islands) and `immigration` records, per island and generation,
/// the migrant seqs (a JSON list) that island took in at that barrier, so that a resumed island replays exactly
/// those. As everywhere, SQLite's tables have no `study` column: the file is the study.
///
/// PostgreSQL's indexes are chosen so that a trial's lookup by (study, number) can only take the primary key:
/// every other index either leads with another column or is partial (unfinished trials; finished ones in
/// finish order). A plain index led by `study` is a trap there: with the statistics of a study that just
/// started, the planner takes it for a number lookup and filters the whole study, which grows every trial's
/// cost with the study. The partial index of unfinished trials also keeps the workers' look at what still runs
/// (the constant liars) small: an index of all states fills with dead entries between vacuums.
enum StudySchema {
    struct Step {
        let id: String
        let sqlite: String
        let postgres: String
    }

    static let steps: [Step] = [
        Step(
            id: "v1",
            sqlite: """
                CREATE TABLE study (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    kind TEXT,
                    settings TEXT,
                    created_at REAL NOT NULL
                );
                CREATE TABLE trial (
                    number INTEGER PRIMARY KEY,
                    grp TEXT NOT NULL DEFAULT '',
                    state TEXT NOT NULL,
                    parameters TEXT NOT NULL,
                    expressions TEXT NOT NULL,
                    canonical_key TEXT,
                    objective REAL,
                    test_accuracy REAL,
                    metrics TEXT NOT NULL,
                    epochs INTEGER,
                    seed TEXT,
                    device TEXT,
                    started_at REAL,
                    finished_at REAL,
                    train_seconds REAL,
                    duplicate_of INTEGER
                );
                CREATE INDEX trial_key ON trial(canonical_key);
                CREATE INDEX trial_state ON trial(state);
                CREATE TABLE trial_counter (id INTEGER PRIMARY KEY CHECK (id = 1), next INTEGER NOT NULL);
                INSERT INTO trial_counter (id, next) VALUES (1, 0);
                """,
            postgres: """
                CREATE TABLE study (
                    name TEXT PRIMARY KEY,
                    kind TEXT,
                    settings TEXT,
                    created_at DOUBLE PRECISION NOT NULL,
                    next_number BIGINT NOT NULL DEFAULT 0
                );
                CREATE TABLE trial (
                    study TEXT NOT NULL REFERENCES study(name) ON DELETE CASCADE,
                    number BIGINT NOT NULL,
                    grp TEXT NOT NULL DEFAULT '',
                    state TEXT NOT NULL,
                    parameters TEXT NOT NULL,
                    expressions TEXT NOT NULL,
                    canonical_key TEXT,
                    objective DOUBLE PRECISION,
                    test_accuracy DOUBLE PRECISION,
                    metrics TEXT NOT NULL,
                    epochs INTEGER,
                    seed TEXT,
                    device TEXT,
                    started_at DOUBLE PRECISION,
                    finished_at DOUBLE PRECISION,
                    train_seconds DOUBLE PRECISION,
                    duplicate_of BIGINT,
                    PRIMARY KEY (study, number)
                );
                CREATE INDEX trial_key ON trial(canonical_key, study);
                """),
        Step(
            id: "v2-workers",
            sqlite: """
                ALTER TABLE trial ADD COLUMN worker TEXT;
                ALTER TABLE trial ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE trial ADD COLUMN finished_seq INTEGER;
                ALTER TABLE trial ADD COLUMN claim_key TEXT;
                CREATE UNIQUE INDEX trial_claim_key ON trial(claim_key);
                UPDATE trial SET finished_seq = number + 1 WHERE state IN ('complete', 'failed', 'diverged');
                CREATE INDEX trial_finished_seq ON trial(finished_seq);
                ALTER TABLE trial_counter ADD COLUMN finished_seq INTEGER NOT NULL DEFAULT 0;
                UPDATE trial_counter SET finished_seq = (SELECT COALESCE(MAX(finished_seq), 0) FROM trial);
                CREATE TABLE worker (
                    id TEXT PRIMARY KEY,
                    ordinal INTEGER NOT NULL,
                    host TEXT NOT NULL,
                    pid INTEGER NOT NULL,
                    device TEXT,
                    started_at REAL NOT NULL,
                    heartbeat_at REAL NOT NULL,
                    stopped_at REAL
                );
                """,
            postgres: """
                ALTER TABLE trial ADD COLUMN worker TEXT;
                ALTER TABLE trial ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE trial ADD COLUMN finished_seq BIGINT;
                ALTER TABLE trial ADD COLUMN claim_key TEXT;
                CREATE UNIQUE INDEX trial_claim_key ON trial(claim_key, study);
                CREATE INDEX trial_finished_seq ON trial(study, finished_seq) WHERE finished_seq IS NOT NULL;
                CREATE INDEX trial_unfinished ON trial(study, number) WHERE state IN ('pending', 'running');
                ALTER TABLE study ADD COLUMN finished_seq BIGINT NOT NULL DEFAULT 0;
                ALTER TABLE study ADD COLUMN trial_count BIGINT NOT NULL DEFAULT 0;
                CREATE TABLE worker (
                    study TEXT NOT NULL REFERENCES study(name) ON DELETE CASCADE,
                    id TEXT NOT NULL,
                    ordinal INTEGER NOT NULL,
                    host TEXT NOT NULL,
                    pid INTEGER NOT NULL,
                    device TEXT,
                    started_at DOUBLE PRECISION NOT NULL,
                    heartbeat_at DOUBLE PRECISION NOT NULL,
                    stopped_at DOUBLE PRECISION,
                    PRIMARY KEY (study, id)
                );
                """),
        Step(
            id: "v3-migrants",
            sqlite: """
                CREATE TABLE migrant (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    island TEXT NOT NULL,
                    generation INTEGER NOT NULL,
                    population TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    created_at REAL NOT NULL
                );
                """,
            postgres: """
                CREATE TABLE migrant (
                    seq BIGSERIAL PRIMARY KEY,
                    study TEXT NOT NULL REFERENCES study(name) ON DELETE CASCADE,
                    island TEXT NOT NULL,
                    generation INTEGER NOT NULL,
                    population TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    created_at DOUBLE PRECISION NOT NULL
                );
                CREATE INDEX migrant_study ON migrant(study, seq);
                """),
        Step(
            id: "v4-islands",
            sqlite: """
                ALTER TABLE trial ADD COLUMN island TEXT;
                CREATE INDEX trial_island ON trial(island, grp);
                CREATE INDEX migrant_island ON migrant(island, population, generation);
                CREATE TABLE immigration (
                    island TEXT NOT NULL,
                    generation INTEGER NOT NULL,
                    migrants TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    PRIMARY KEY (island, generation)
                );
                """,
            postgres: """
                ALTER TABLE trial ADD COLUMN island TEXT;
                CREATE INDEX trial_island ON trial(island, study, grp) WHERE island IS NOT NULL;
                CREATE TABLE immigration (
                    study TEXT NOT NULL REFERENCES study(name) ON DELETE CASCADE,
                    island TEXT NOT NULL,
                    generation INTEGER NOT NULL,
                    migrants TEXT NOT NULL,
                    created_at DOUBLE PRECISION NOT NULL,
                    PRIMARY KEY (study, island, generation)
                );
                """),
    ]
}
