"""The ledger's schema, owned here alone as an ordered list of named migrations.

A ledger outlives the code that made it, so its schema moves forward in steps that every ledger takes in the
same order: each migration is a small function of the connection, and a ledger records the names it has
applied in its `_migrations` table. `migrate` runs on every open; when something is pending it applies it
inside one BEGIN IMMEDIATE transaction that re-reads `_migrations` first, so two processes opening a new
ledger at once apply each migration once, and a failure leaves the ledger as it was. A ledger that records a
migration this code does not know was written by a newer claimtrack and is refused (`LedgerTooNew`), since
code that does not know its schema must not write it.

Adding a migration: append a function below the last one, numbered one higher, and nothing else::

    @migration
    def m002_candidates_note(conn: sqlite3.Connection) -> None:
        \"\"\"Why the schema needs it.\"\"\"
        conn.execute("ALTER TABLE candidates ADD COLUMN note TEXT")

Never edit, rename or reorder a migration that has shipped: ledgers know them by name. Run each statement with
`conn.execute` (`executescript` would commit half-way). A number out of sequence fails at import, so two
branches that both add m002 are caught when they are merged.
"""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

from claimtrack.errors import LedgerTooNew

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[Migration] = []
_NAME = re.compile(r"^m(\d{3})_[a-z0-9_]+$")


def migration(fn: Migration) -> Migration:
    """Register `fn` as the next migration; its name must be `mNNN_what` with NNN one above the last."""
    match = _NAME.match(fn.__name__)
    if match is None or int(match.group(1)) != len(MIGRATIONS) + 1:
        raise ValueError(f"migration {fn.__name__!r} must be named m{len(MIGRATIONS) + 1:03d}_<what>")
    MIGRATIONS.append(fn)
    return fn


def migrate(conn: sqlite3.Connection, path: Path) -> list[str]:
    """Apply the migrations `conn`'s ledger lacks, all in one transaction; returns the names applied.

    `conn` must be in autocommit mode (isolation_level=None) and outside a transaction.
    """
    known = [fn.__name__ for fn in MIGRATIONS]
    if not _pending(conn, path, known):
        return []  # the common case: a read, no write lock
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        pending = _pending(conn, path, known)  # again, under the lock: another process may have just migrated
        for fn in MIGRATIONS:
            if fn.__name__ in pending:
                fn(conn)
                conn.execute(
                    "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                    (fn.__name__, dt.datetime.now(dt.UTC).isoformat(timespec="seconds")),
                )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return [name for name in known if name in pending]


def applied(conn: sqlite3.Connection) -> list[str]:
    """The migration names a ledger records, oldest first; [] for a ledger made before migrations."""
    exists = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'").fetchone()
    if exists is None:
        return []
    return [row[0] for row in conn.execute("SELECT name FROM _migrations ORDER BY rowid")]


def _pending(conn: sqlite3.Connection, path: Path, known: list[str]) -> set[str]:
    done = applied(conn)
    unknown = [name for name in done if name not in known]
    if unknown:
        raise LedgerTooNew(path, unknown)
    return set(known) - set(done)


# Migration 1: the tables as the modules that used them declared them before migrations began.
_INITIAL = (
    """CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    command TEXT NOT NULL,
    outcome TEXT,              -- ok | failed | interrupted; NULL while running
    summary_json TEXT
)""",
    """CREATE TABLE IF NOT EXISTS papers (
    id TEXT PRIMARY KEY,          -- versionless arXiv id; 'doi:<doi>' or '<source>:<id>' when there is none
    version TEXT,                 -- latest arXiv version seen, e.g. 'v3'
    doi TEXT,
    title TEXT NOT NULL,
    abstract TEXT NOT NULL DEFAULT '',
    authors_json TEXT NOT NULL DEFAULT '[]',
    categories_json TEXT NOT NULL DEFAULT '[]',
    published TEXT,               -- ISO date of first version
    updated TEXT,
    url TEXT,
    first_seen_at TEXT NOT NULL
)""",
    "CREATE UNIQUE INDEX IF NOT EXISTS papers_doi ON papers(doi) WHERE doi IS NOT NULL",
    """CREATE TABLE IF NOT EXISTS paper_sightings (
    paper_id TEXT NOT NULL REFERENCES papers(id),
    source TEXT NOT NULL,         -- arxiv | semanticscholar | openalex | snapshot
    detail TEXT NOT NULL DEFAULT '',  -- the query, or the anchor a citation came from
    claim_id TEXT NOT NULL DEFAULT '',
    seen_at TEXT NOT NULL,
    PRIMARY KEY (paper_id, source, detail, claim_id)
)""",
    """CREATE TABLE IF NOT EXISTS candidates (
    claim_id TEXT NOT NULL,
    paper_id TEXT NOT NULL REFERENCES papers(id),
    score REAL NOT NULL,
    rank INTEGER NOT NULL,
    why TEXT NOT NULL DEFAULT '',  -- what matched: terms, dense similarity, citing an anchor
    found_at TEXT NOT NULL,
    run_id TEXT,
    state TEXT NOT NULL DEFAULT 'unjudged',  -- unjudged | judged | judge-error
    PRIMARY KEY (claim_id, paper_id)
)""",
    """CREATE TABLE IF NOT EXISTS judgements (
    key TEXT PRIMARY KEY,          -- sha256(claim text, paper id + version, model, prompt version)
    claim_id TEXT NOT NULL,
    paper_id TEXT NOT NULL,
    paper_version TEXT,
    model TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    outcome TEXT NOT NULL,         -- judged | judge-error
    stance TEXT,
    quote TEXT,
    scope_note TEXT,
    confidence REAL,
    rationale TEXT,
    error TEXT,                    -- why a judge-error was recorded
    tokens_in INTEGER NOT NULL DEFAULT 0,
    tokens_out INTEGER NOT NULL DEFAULT 0,
    judged_at TEXT NOT NULL,
    run_id TEXT
)""",
    "CREATE INDEX IF NOT EXISTS judgements_claim ON judgements(claim_id)",
    """CREATE TABLE IF NOT EXISTS llm_calls (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT,
    purpose TEXT NOT NULL,        -- judge | plan | bench | doctor
    model TEXT NOT NULL,
    tokens_in INTEGER NOT NULL DEFAULT 0,
    tokens_out INTEGER NOT NULL DEFAULT 0,
    ok INTEGER NOT NULL,          -- 1 when a reply came back, 0 when the call failed
    error TEXT,
    at TEXT NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS query_plans (
    key TEXT PRIMARY KEY,         -- sha256(claim text, curated terms, model, prompt version)
    claim_id TEXT NOT NULL,
    model TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    queries_json TEXT NOT NULL,
    made_at TEXT NOT NULL,
    run_id TEXT
)""",
    """CREATE TABLE IF NOT EXISTS http_cache (
    key TEXT PRIMARY KEY,         -- sha256 of the URL with sorted query parameters
    url TEXT NOT NULL,            -- for people reading the ledger; never holds a secret
    status INTEGER NOT NULL,
    body BLOB NOT NULL,
    content_type TEXT NOT NULL DEFAULT '',
    fetched_at TEXT NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS replication_jobs (
    id TEXT PRIMARY KEY,          -- rep-<spec>-<first 10 hex of the cache key>
    cache_key TEXT NOT NULL,
    claim_id TEXT NOT NULL,
    spec_id TEXT NOT NULL,
    executor TEXT NOT NULL,       -- local | slurm
    state TEXT NOT NULL,          -- running | submitted | done | failed
    created_at TEXT NOT NULL,
    finished_at TEXT,
    inputs_json TEXT NOT NULL,    -- what the cache key hashes, readable
    lm_eval_calls INTEGER NOT NULL DEFAULT 0,
    result_path TEXT,
    external_id TEXT,             -- the Slurm (submitit) job id
    evidence_id TEXT,
    error TEXT,
    run_id TEXT
)""",
    "CREATE INDEX IF NOT EXISTS replication_jobs_claim ON replication_jobs(claim_id, created_at)",
)


@migration
def m001_initial(conn: sqlite3.Connection) -> None:
    """The schema as it stood when migrations began. IF NOT EXISTS throughout, so a ledger made before then
    (which holds some or all of these tables, created as each subsystem first ran) keeps its rows and gains
    what it lacks; its old bookkeeping table goes."""
    for statement in _INITIAL:
        conn.execute(statement)
    conn.execute("DROP TABLE IF EXISTS schema_parts")


@migration
def m002_citation_contexts(conn: sqlite3.Connection) -> None:
    """What a citing paper says where it cites an anchor (Semantic Scholar's contexts, intents, influence), so
    the judge can read it. Keyed by the paper as stored; ON UPDATE CASCADE follows a provisional id (doi:...)
    when the paper later gains its arXiv id."""
    conn.execute(
        """CREATE TABLE citation_contexts (
    paper_id TEXT NOT NULL REFERENCES papers(id) ON UPDATE CASCADE,  -- the citing paper
    anchor TEXT NOT NULL,          -- the cited anchor's arXiv id
    contexts_json TEXT NOT NULL DEFAULT '[]',  -- the citing sentences, as the source gives them
    intents_json TEXT NOT NULL DEFAULT '[]',   -- background | methodology | result
    influential INTEGER,           -- 1/0 as Semantic Scholar classes the citation; NULL when not said
    source TEXT NOT NULL,          -- semanticscholar
    fetched_at TEXT NOT NULL,
    PRIMARY KEY (paper_id, anchor)
)"""
    )


@migration
def m003_fulltexts(conn: sqlite3.Connection) -> None:
    """Full texts read once per paper version (a version's text never changes), or why none could be."""
    conn.execute(
        """CREATE TABLE fulltexts (
    paper_id TEXT NOT NULL,        -- versionless arXiv id
    version TEXT NOT NULL DEFAULT '',  -- 'v2'; '' when the latest was asked for
    parser TEXT NOT NULL,          -- the parser (and passage size) that made it: another one reads again
    source TEXT NOT NULL,          -- html | pdf | none
    fulltext BLOB,                 -- zlib-compressed FullText JSON when source is html or pdf
    reason TEXT,                   -- why there is none (not found, no text), when source is none
    fetched_at TEXT NOT NULL,
    PRIMARY KEY (paper_id, version)
)"""
    )


@migration
def m004_arxiv_records(conn: sqlite3.Connection) -> None:
    """arXiv metadata per paper and version, for anchors: a version never changes once listed, so `anchors
    verify` asks arXiv again only for what it has not seen (and for the newest version after a day)."""
    conn.execute(
        """CREATE TABLE IF NOT EXISTS arxiv_records (
    id TEXT NOT NULL,             -- versionless arXiv id
    version TEXT NOT NULL,        -- e.g. 'v2'
    latest INTEGER NOT NULL DEFAULT 0,  -- 1: the newest version when it was fetched
    record_json TEXT NOT NULL,    -- title, authors, dates, categories, abstract, comment as arXiv lists them
    fetched_at TEXT NOT NULL,
    PRIMARY KEY (id, version)
)"""
    )


@migration
def m005_confirmation_and_review(conn: sqlite3.Connection) -> None:
    """Judgements become one of two roles (the first judgement, or its independent confirmation) and record
    which sentences they cited and where the quote came from; pairs whose two judgements disagree wait in
    `reviews` for a person."""
    for column in (
        "role TEXT NOT NULL DEFAULT 'judge'",  # judge | confirm
        "sentences_json TEXT",  # the sentence numbers the reply cited, as a JSON list
        "quote_source TEXT",  # abstract | fulltext | citation-context
        "quote_section TEXT",  # a full-text quote's section heading
    ):
        conn.execute(f"ALTER TABLE judgements ADD COLUMN {column}")
    conn.execute(
        """CREATE TABLE reviews (
    id TEXT PRIMARY KEY,          -- rv-<8 hex of the two judgement keys>
    claim_id TEXT NOT NULL,
    paper_id TEXT NOT NULL,
    judge_key TEXT NOT NULL,      -- the first judgement (judgements.key)
    confirm_key TEXT NOT NULL,    -- the confirmation that disagreed with it
    created_at TEXT NOT NULL,
    run_id TEXT,
    state TEXT NOT NULL DEFAULT 'open',  -- open | accepted | rejected
    decided_at TEXT,
    decided_by TEXT,
    note TEXT
)"""
    )
    conn.execute("CREATE INDEX reviews_claim ON reviews(claim_id, state)")


@migration
def m006_llm_call_attempts(conn: sqlite3.Connection) -> None:
    """Every attempt at an LLM call is its own row (retries are no longer hidden in the client), with the
    seconds it took, so a slow local model's cost shows in the ledger."""
    conn.execute("ALTER TABLE llm_calls ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1")
    conn.execute("ALTER TABLE llm_calls ADD COLUMN seconds REAL")


@migration
def m007_papers_fts(conn: sqlite3.Connection) -> None:
    """Lexical search over the papers: an FTS5 index of title and abstract (porter stemming, diacritics folded)
    that stores no text of its own (`content='papers'`), kept in step by triggers, so every writer of `papers`
    keeps it current and no process rebuilds it. Back-fills the papers an existing ledger holds.

    It is keyed by papers' rowid, which stays put: a DOI re-keying updates `id` in place, and VACUUM keeps the
    rowids of a table that has an index (papers always has its primary key's). The update trigger fires only
    when the text changed, so a metadata-only update leaves the index alone. Never write papers with
    INSERT OR REPLACE: the rows it deletes skip the delete trigger."""
    conn.execute(
        "CREATE VIRTUAL TABLE papers_fts USING fts5(title, abstract, content='papers', content_rowid='rowid',"
        " tokenize='porter unicode61 remove_diacritics 2')"
    )
    conn.execute(
        "CREATE TRIGGER papers_fts_insert AFTER INSERT ON papers BEGIN"
        " INSERT INTO papers_fts (rowid, title, abstract) VALUES (new.rowid, new.title, new.abstract); END"
    )
    conn.execute(
        "CREATE TRIGGER papers_fts_delete AFTER DELETE ON papers BEGIN"
        " INSERT INTO papers_fts (papers_fts, rowid, title, abstract)"
        " VALUES ('delete', old.rowid, old.title, old.abstract); END"
    )
    conn.execute(
        "CREATE TRIGGER papers_fts_update AFTER UPDATE OF title, abstract ON papers"
        " WHEN old.title IS NOT new.title OR old.abstract IS NOT new.abstract BEGIN"
        " INSERT INTO papers_fts (papers_fts, rowid, title, abstract)"
        " VALUES ('delete', old.rowid, old.title, old.abstract);"
        " INSERT INTO papers_fts (rowid, title, abstract) VALUES (new.rowid, new.title, new.abstract); END"
    )
    conn.execute("INSERT INTO papers_fts (papers_fts) VALUES ('rebuild')")


@migration
def m008_passage_choices(conn: sqlite3.Connection) -> None:
    """The full-text passages chosen for a claim, kept so that a later run shows the judge the same text (its
    judgement then comes from the cache) without ranking the paper's passages again."""
    conn.execute(
        """CREATE TABLE passage_choices (
    key TEXT PRIMARY KEY,          -- sha256 of what decides the choice: ranking and parser versions, paper id
                                   -- and version, the claim's text, the budget, the embedding settings
    paper_id TEXT NOT NULL,        -- versionless arXiv id
    version TEXT NOT NULL DEFAULT '',
    passages_json TEXT NOT NULL,   -- the chosen passages' positions in the paper (Passage.n), best first
    chosen_at TEXT NOT NULL
)"""
    )


@migration
def m009_paper_aliases(conn: sqlite3.Connection) -> None:
    """The ids a paper was known by before two rows turned out to be one paper (a DOI or S2 id given up for the
    arXiv id), so that claim files naming the old id are rewritten to the one kept (papers.aliases)."""
    conn.execute(
        """CREATE TABLE paper_aliases (
    alias TEXT PRIMARY KEY,        -- the id given up (papers.id as it was)
    paper_id TEXT NOT NULL,        -- the id kept
    merged_at TEXT NOT NULL
)"""
    )


@migration
def m010_replication_tasks(conn: sqlite3.Connection) -> None:
    """What a replication job needs to be followed on Slurm and resubmitted: its tasks (one per model, the
    elements of one job array), the payload they ran on, when it was submitted, why it failed in Slurm's words
    (CANCELLED, TIMEOUT, ...), and how many lm-eval requests its runs answered from the request cache."""
    for column in (
        "tasks_json TEXT",  # JSON list: the external id of each model's task ('<cluster>:<job id>'), in model order
        "payload_json TEXT",  # what execute_model ran on, for `replicate --retry`
        "submitted_at TEXT",
        "reason TEXT",  # CANCELLED | TIMEOUT | OUT_OF_MEMORY | NODE_FAIL | PREEMPTED | ... | error
        "cache_hits INTEGER NOT NULL DEFAULT 0",  # lm-eval requests answered from the job's request cache
    ):
        conn.execute(f"ALTER TABLE replication_jobs ADD COLUMN {column}")


@migration
def m011_search_at_scale(conn: sqlite3.Connection) -> None:
    """What a search at a million papers needs (docs/discovery.md).

    `fts_term_docs`: how many papers hold each search term, as lexical search last counted it. FTS5 stores no
    document counts: counting a common word means reading its whole posting list (about a second for a claim's
    words at a million papers), so a search keeps the counts it made. A count is used only while `stamp` equals
    FTS5's 'averages' record (paper count and token totals), which every change to the indexed text rewrites.

    `paper_sightings_claim`: a claim's own sightings (what its searches and citation lookups found) without a
    scan of the million sightings an imported snapshot leaves."""
    conn.execute(
        """CREATE TABLE fts_term_docs (
    term TEXT PRIMARY KEY,         -- as papers_fts holds it: stemmed, folded
    docs INTEGER NOT NULL,         -- papers holding it
    stamp BLOB NOT NULL            -- papers_fts_data's averages record when counted
)"""
    )
    conn.execute("CREATE INDEX paper_sightings_claim ON paper_sightings(claim_id)")


@migration
def m012_judge_qualifications(conn: sqlite3.Connection) -> None:
    """A judge earns its weight on pairs whose answer is known (`claimtrack judge qualify`): each measurement is
    kept, keyed by what makes a judge (models, endpoint, prompt versions), and the newest one of the judge a run
    uses weighs its judgements. Review items say why they wait and what the pair's measured probabilities
    were, so the decision can weigh a pair that waits; a run records how its judge stood."""
    conn.execute(
        """CREATE TABLE judge_qualifications (
    id TEXT PRIMARY KEY,           -- q-<12 hex>
    identity TEXT NOT NULL,        -- sha256 of judge model, confirm model, endpoint and prompt versions
    judge_model TEXT NOT NULL,
    confirm_model TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    prompts_json TEXT NOT NULL,    -- {"judge": version, "confirm": version, "recheck": version}
    data TEXT NOT NULL,            -- the labelled set(s) and their sha256
    n INTEGER NOT NULL,            -- pairs measured
    qualified INTEGER NOT NULL,    -- 1: at or above the floor
    reason TEXT NOT NULL,          -- why it qualified or not, one line
    record_json TEXT NOT NULL,     -- the whole record (confusion matrices, precision/recall, kappa, ...)
    tokens_in INTEGER NOT NULL DEFAULT 0,
    tokens_out INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
)"""
    )
    conn.execute("CREATE INDEX judge_qualifications_identity ON judge_qualifications(identity, created_at)")
    conn.execute("ALTER TABLE reviews ADD COLUMN reason TEXT")  # disagree | uncertain | unqualified
    conn.execute("ALTER TABLE reviews ADD COLUMN probability_json TEXT")  # the pair's measured stance probabilities
    conn.execute("ALTER TABLE runs ADD COLUMN judge_standing TEXT")  # qualified q-... | not qualified | trusted
