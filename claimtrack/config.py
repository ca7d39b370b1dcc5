"""Settings from the environment, in one place. Secrets are read here and never written anywhere."""

from __future__ import annotations

import os
import re
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob claimtrack reads from the environment (CLAIMTRACK_* unless the variable is a standard one)."""

    model_config = SettingsConfigDict(env_prefix="CLAIMTRACK_", extra="ignore")

    arxiv_url: str = "https://export.arxiv.org/api/query"
    s2_url: str = "https://api.semanticscholar.org/graph/v1"
    openalex_url: str = "https://api.openalex.org"
    s2_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("S2_API_KEY", "CLAIMTRACK_S2_API_KEY")
    )
    openalex_mailto: str | None = None  # OpenAlex's polite pool
    arxiv_delay_s: float = 3.0  # arXiv asks for 3 s between calls, one connection at a time, for the whole run
    # Semantic Scholar: a key's introductory rate is 1 request per second; without a key, 100 requests per 5 minutes
    # (one per 3 s) from the shared pool. None: the rate that fits whether a key is set.
    s2_delay_s: float | None = Field(default=None, ge=0.0)
    openalex_delay_s: float = Field(default=0.1, ge=0.0)  # OpenAlex allows 10 requests per second
    http_timeout_s: float = 30.0
    # Discovery (claimtrack/discovery): retries, cache, paging, embeddings.
    # Extra tries after a timeout, a connection lost mid-answer, 5xx or 429; a connection that cannot be opened
    # (a name that does not resolve, refused) is not retried: its host is down for the run (discovery/http.py).
    http_retries: int = 3
    http_backoff_s: float = 1.0  # first back-off; doubles each try
    http_max_wait_s: float = 60.0  # cap on one wait, including a 429's Retry-After
    http_cache_ttl_s: float = 86400.0  # how long a cached answer counts as fresh (0: no cache)
    # One API answer (an arXiv Atom page, a Semantic Scholar or OpenAlex JSON page), counted in decoded bytes;
    # a larger one is refused. Real pages run to hundreds of KB; the limit only stops a runaway answer.
    http_max_bytes: int = Field(default=20_000_000, gt=0)
    arxiv_page_size: int = 50
    arxiv_max_results: int = 50  # per query
    arxiv_retries: int = 1  # the arxiv client's own retry (empty pages); HTTP faults are retried below it
    # arXiv announces a paper days after its submission date; each search window starts this long before the
    # last check, so a paper submitted before one check and announced after it is still found by the next.
    arxiv_overlap_days: float = Field(default=7.0, ge=0.0)
    citations_max: int = 500  # citing papers per anchor
    # Anchors (claimtrack/anchors): linking a note to its paper by arXiv search (docs/store.md).
    anchor_match_threshold: float = Field(default=0.35, ge=0.0, le=1.0)  # a search match is proposed from here up
    anchor_search_queries: int = Field(default=3, gt=0)  # queries per note, one per telling phrase of its finding
    anchor_search_results: int = Field(default=10, gt=0)  # results kept per query
    embed_int8: bool = True  # int8 dynamic quantization of MiniLM: ~2x faster, nDCG unchanged (docs/discovery.md)
    embed_max_tokens: int = 256
    # Full texts (claimtrack/fulltext, docs/fulltext.md): where, how much, and how long.
    arxiv_html_url: str = "https://arxiv.org/html"  # + /<id>[vN]: LaTeXML's rendering of the paper
    arxiv_pdf_url: str = "https://arxiv.org/pdf"  # + /<id>[vN]: the fallback when there is no HTML
    fulltext_budget_tokens: int = Field(default=700, gt=0)  # passages sent per (claim, paper), MiniLM tokens
    contexts_budget_tokens: int = Field(default=300, ge=0)  # citation contexts sent per (claim, paper), likewise
    # A first look (title, abstract, contexts) that says unrelated at or above this confidence sets the pair aside:
    # its full text is not read and it is not judged again (docs/agent.md).
    first_look_unrelated: float = Field(default=0.8, ge=0.0, le=1.0)
    fulltext_passage_tokens: int = Field(default=200, ge=32, le=256)  # longest passage (MiniLM reads 256)
    fulltext_max_bytes: int = Field(default=30_000_000, gt=0)  # one HTML page or PDF; larger ones are cut
    fulltext_max_pages: int = Field(default=50, gt=0)  # PDF pages read (a 300-page thesis: the first 50)
    fulltext_fetch_s: float = Field(default=120.0, gt=0)  # wall-clock limit on one download
    fulltext_parse_s: float = Field(default=60.0, gt=0)  # wall-clock limit on reading one PDF's or HTML page's text
    # Papers per query that dense scores are computed for: the lexical top this many (plus, for a claim, what
    # its searches and citations found). Each is embedded once, the first time it is needed.
    lexical_pool: int = Field(default=300, gt=0)
    # Lexical search's first stage reads the postings of the query's rarest words while their document counts
    # sum to at most this many, then re-scores its best papers with every word (claimtrack/discovery/lexical.py).
    lexical_budget: int = Field(default=100_000, gt=0)
    cache_dir: Path = Field(
        default_factory=lambda: Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "claimtrack"
    )
    chroma_host: str | None = Field(
        default=None, validation_alias=AliasChoices("CHROMA_HOST", "CLAIMTRACK_CHROMA_HOST")
    )
    chroma_port: int = Field(default=8000, validation_alias=AliasChoices("CHROMA_PORT", "CLAIMTRACK_CHROMA_PORT"))

    openai_api_key: SecretStr | None = Field(default=None, validation_alias=AliasChoices("OPENAI_API_KEY"))
    openai_base_url: str | None = Field(default=None, validation_alias=AliasChoices("OPENAI_BASE_URL"))
    llm_model: str = "gpt-4o-mini"
    llm_timeout_s: float = 60.0
    llm_max_retries: int = Field(default=2, ge=0)  # our retries of 429/5xx/timeouts; each attempt is counted
    llm_backoff_s: float = Field(default=1.0, ge=0.0)  # first wait before a retry; doubles each time
    llm_concurrency: int = Field(default=8, ge=1)  # LLM calls in flight at once (match a local server's slots)
    llm_requests_per_minute: int = Field(default=0, ge=0)  # a hosted plan's request budget (0: none)
    llm_tokens_per_minute: int = Field(default=0, ge=0)  # and its token budget, in and out (0: none)
    llm_max_tokens: int = Field(default=512, ge=0)  # reply length limit sent as max_tokens (0: send none)
    confirm_model: str | None = None  # a second model (same endpoint) for confirmations; else the judge's model
    judge_threshold: float = Field(default=0.6, ge=0.0, le=1.0)  # "credible" evidence needs this confidence
    judge_k: int = Field(default=8, gt=0)  # pairs judged afresh per claim and run (cached ones are free)
    # Weighing by measurement (claimtrack/agent/weighing.py, docs/agent.md): a pair counts, or is set aside as
    # unrelated, when one stance reaches this probability given its judgements and the judge's qualification;
    # a status moves when the new one is more probable than every other outcome by the margin.
    # 0.999, not 0.99: at 0.99 two agreeing wrong answers of a judge wrong on one call in ten count (about one
    # pair in 400), which over a library's hundreds of pairs moves claims wrongly (benchmarks/verdict_noise.py).
    pair_probability: float = Field(default=0.999, gt=0.5, lt=1.0)
    status_margin: float = Field(default=0.5, gt=0.0, le=1.0)
    # Distinct judge requests one pair may take: a first look, a full judgement, its confirmation and up to six
    # rechecks. Few pairs need more than three (docs/agent.md, the noise table).
    max_calls_per_pair: int = Field(default=9, ge=2)
    trust_judge: bool = False  # CLAIMTRACK_TRUST_JUDGE=1: an unqualified judge counts by its confidence, as before
    run_lock_wait_s: float = 5.0  # a second `claimtrack run` waits this long, then refuses

    @field_validator("arxiv_url", "s2_url", "openalex_url", "arxiv_html_url", "arxiv_pdf_url", "openai_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        # A mistyped endpoint is the user's input, said at once, not a "connection failed" on every request.
        if value is not None and not re.match(r"^https?://[^/\s:]+", value):
            raise ValueError("must be an http:// or https:// URL with a host")
        return value

    @field_validator("openai_api_key", "openai_base_url", "s2_api_key", "chroma_host", "confirm_model", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # CI systems export unset variables as "" (GitHub's `${{ vars.X }}`); that means "not configured".
        return None if isinstance(value, str) and not value.strip() else value

    # Replication jobs behind Slurm (submitit); "local" runs them through submitit's local executor.
    slurm_cluster: str = "slurm"
    slurm_partition: str | None = None
    slurm_timeout_min: int = Field(default=120, gt=0)
    slurm_mem_gb: int = Field(default=32, gt=0)
    slurm_cpus_per_task: int = Field(default=8, gt=0)
    slurm_array_parallelism: int = Field(default=8, gt=0)  # a many-model job array's tasks that run at once

    @property
    def s2_interval_s(self) -> float:
        """Seconds between Semantic Scholar requests: the setting, else what the key (or its absence) allows."""
        if self.s2_delay_s is not None:
            return self.s2_delay_s
        return 1.0 if self.s2_api_key is not None else 3.0

    @property
    def llm_configured(self) -> bool:
        """An endpoint is usable with a key, or with a base URL (local servers often need no key)."""
        return self.openai_api_key is not None or self.openai_base_url is not None


def load_settings() -> Settings:
    """The settings from the environment; a malformed value is one InvalidArgument naming its variable."""
    from pydantic import ValidationError

    from claimtrack.errors import InvalidArgument, plain

    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else "settings"
        variable = name if name.isupper() else f"CLAIMTRACK_{name.upper()}"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        got = f"{first['input']!r}: " if isinstance(first.get("input"), str) else ""
        raise InvalidArgument(variable, f"{got}{plain(first['msg'])}{more}") from None
