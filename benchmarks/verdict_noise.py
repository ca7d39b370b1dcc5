"""How far a noisy or biased judge moves claims: whole `claimtrack run`s with simulated judges, against an
error-free judge on the same papers.

    python benchmarks/verdict_noise.py [--claims 23] [--errors 0.05 0.10 0.20] [--seeds 3] [--trusted] [--json]

Each claim of the repository (the first `--claims`) gets synthetic papers whose true stance is known: by the
claim's position, two supports (holding), one relaxes (relaxed), one supersedes (superseded), one support and one
relaxes (the knife-edge: it stays, contested), two supports and one contradicts (holding) or none, each beside
unrelated papers on the claim's own search terms. A simulated OpenAI-compatible judge answers every request
(judge, confirm, each recheck variant) with the paper's true stance, except that with probability `e`,
independently per request (each distinct text sent), it gives one of the four other stances at random; a biased
judge answers contradicts for every pair, citing a real sentence. Before its run each judge is measured by `judge
qualify` (the library call) on a labelled set of 100 synthetic pairs (20 per stance) generated here, not the
project's qualification set. Runs are real (discovery and ranking, the openai client, SQLite, YAML) against
tests/loopback.py.

Printed per error rate: the share of claim-runs whose status differs from the error-free judge's run (and of
those, the wrong moves: a status the error-free judge did not reach, as against a claim left untested), the
claims the error-free judge moves, the judge's LLM calls per pair judged; then the biased judge, measured
and not. With `--trusted`, each noisy judge also runs unmeasured with `--trust-judge` (counted by its
confidence, as before measurement existed), side by side.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from loopback import ChatReply, Entry, Literature, OpenAIServer, user_text  # noqa: E402

from claimtrack.agent.assess import load_prompts, make_judges  # noqa: E402
from claimtrack.agent.qualification import store  # noqa: E402
from claimtrack.agent.qualify import Sample, qualify  # noqa: E402
from claimtrack.agent.run import RunOptions, execute  # noqa: E402
from claimtrack.config import Settings  # noqa: E402
from claimtrack.ledger import Ledger  # noqa: E402
from claimtrack.models import Claim, Stance  # noqa: E402
from claimtrack.papers import Paper  # noqa: E402
from claimtrack.store import Store  # noqa: E402
from claimtrack.workspace import Workspace  # noqa: E402

STANCES = [s.value for s in Stance]
# What each claim's related papers say, by the claim's position (cycled); the rest of its papers are unrelated.
PATTERNS = [
    ["supports", "supports"],
    ["relaxes"],
    ["supersedes"],
    ["supports", "relaxes"],  # the knife-edge
    ["supports", "supports", "contradicts"],
    [],
]
PAPERS_PER_CLAIM = 6
K = 10  # pairs judged per claim: its own papers and the best-ranked of the others'
FINDING = {
    "supports": "our experiments confirm the effect described by {term} in every model family we trained",
    "relaxes": "the effect of {term} holds only for models below 3B parameters and disappears above that scale",
    "contradicts": "the effect of {term} reverses in our controlled replication across all model sizes we tested",
    "supersedes": "a leak-free benchmark shows the earlier {term} result was an evaluation artefact at every scale",
    "unrelated": "we report a new dataset of annotated protein images and a baseline for segmenting them",
}


def _draw(*parts: object) -> float:
    return int(hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:12], 16) / 16**12


def noisy(truth: dict[tuple[str, str], str], error: float, seed: int) -> Any:
    """A judge that gives the true stance, or with probability `error` one of the four others, per request."""

    def respond(request: dict[str, Any]) -> ChatReply:
        system, user = request["messages"][0]["content"], user_text(request)
        if "Propose arXiv search queries" in system:
            return ChatReply(content=json.dumps({"queries": []}), tokens_in=100, tokens_out=10)
        title = re.search(r"^\[1\] (.*)$", user, re.MULTILINE)[1]  # type: ignore[index]
        question = re.search(r"^Question: (.*)$", user, re.MULTILINE)[1]  # type: ignore[index]
        stance = truth.get((question, title), "unrelated")  # a paper bears only on the claim it was made for
        asked = (seed, system, re.sub(r"<<<PAPER-[0-9a-f]+>>>", "", user))  # the request, its random fence aside
        if _draw(*asked) < error:
            others = [s for s in STANCES if s != stance]
            stance = others[int(_draw("which", *asked) * len(others))]
        return _reply(user, stance)

    return respond


def always_contradicts(request: dict[str, Any]) -> ChatReply:
    system, user = request["messages"][0]["content"], user_text(request)
    if "Propose arXiv search queries" in system:
        return ChatReply(content=json.dumps({"queries": []}), tokens_in=100, tokens_out=10)
    return _reply(user, "contradicts")


def _reply(user: str, stance: str) -> ChatReply:
    numbers = [int(n) for n in re.findall(r"^\[(\d+)\] \S+ \S+ \S+ \S+", user, re.MULTILINE)]
    cited = [max(numbers)] if stance != "unrelated" else []
    body = {"stance": stance, "sentences": cited, "confidence": 0.9, "scope_note": None, "rationale": "simulated"}
    return ChatReply(content=json.dumps(body), tokens_in=len(user) // 4, tokens_out=40)


def literature_for(ws: Workspace, claims: int) -> tuple[list[Entry], dict[tuple[str, str], str], dict[str, str]]:
    """Papers for each claim, the true stance of each (question, title), and each claim's related stances."""
    entries, truth, patterns = [], {}, {}
    for number, claim in enumerate(sorted(Store(ws).load().claims.values(), key=lambda c: c.id)[:claims]):
        related = PATTERNS[number % len(PATTERNS)]
        patterns[claim.id] = "+".join(related) or "none"
        terms = claim.search.terms or [claim.title]
        for index in range(PAPERS_PER_CLAIM):
            stance = related[index] if index < len(related) else "unrelated"
            term = terms[0]  # the claim's first search term: the loopback arXiv finds every paper of the claim
            title = f"{term.capitalize()}: study {number}.{index}"
            abstract = (
                f"We study {term} in {index + 3} model families. We find that {FINDING[stance].format(term=term)}."
            )
            entries.append(
                Entry(
                    f"2609.{number:03d}{index:02d}v1",
                    title,
                    abstract,
                    "2026-09-15",
                    categories=tuple(claim.search.categories) or ("cs.CL",),
                )
            )
            truth[(claim.title, title)] = stance
    return entries, truth, patterns


def labelled_set() -> tuple[list[Sample], dict[tuple[str, str], str]]:
    """100 synthetic pairs, 20 per stance, for `judge qualify` (and their truth by title)."""
    samples, truth = [], {}
    for n in range(100):
        stance = STANCES[n % 5]
        term = f"a training recipe number {n}"
        title = f"Qualification paper {n}"
        abstract = f"We examine {term} on eight benchmarks. We find that {FINDING[stance].format(term=term)}."
        claim = Claim(id=f"q{n}", title=f"Does {term} help?", statement=f"{term.capitalize()} helps training.")
        samples.append(Sample(claim, Paper(id=f"2601.{n:05d}", title=title, abstract=abstract), Stance(stance)))
        truth[(claim.title, title)] = stance
    return samples, truth


def one_run(claims: int, responder: Any, *, measure: bool, trust: bool = False) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="claimtrack-noise-") as scratch:
        root = Path(scratch)
        (root / "claims").mkdir()
        for path in sorted((ROOT / "claims").glob("*.yaml"))[:claims]:
            shutil.copy(path, root / "claims")
        ws = Workspace.at(root)
        entries, _, patterns = literature_for(ws, claims)
        with Literature(entries) as literature, OpenAIServer(responder=responder) as llm:
            env = {**literature.env(), **llm.env(), "CLAIMTRACK_HTTP_RETRIES": "0"}
            with mock.patch.dict(os.environ, env):
                settings = Settings()
                qualified = None
                if measure:
                    with Ledger.open(ws) as ledger:
                        judges = make_judges(load_prompts(ws), settings, ledger=ledger, run_id="qualify")
                        assert judges is not None
                        record = qualify(ledger, judges, labelled_set()[0], ["verdict_noise synthetic set"])
                        store(ledger, record)
                        qualified = record.qualified
                summary = execute(ws, RunOptions(all=True, replicate=False, k=K, trust_judge=trust), settings=settings)
        library = Store(ws).load()
        totals = summary.as_dict()["totals"]
        return {
            "qualified": qualified,
            "status": {c.id: str(c.status) for c in library.claims.values()},
            "contested": sorted(c.id for c in library.claims.values() if c.contested),
            "moved": sum(1 for c in library.claims.values() if str(c.status) != "untested"),
            "calls_per_pair": totals["judge_calls_per_pair"],
            "to_review": totals["pairs_to_review"],
            "patterns": patterns,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=23)
    parser.add_argument("--errors", type=float, nargs="+", default=[0.05, 0.10, 0.20])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trusted", action="store_true", help="also run each noisy judge unmeasured, trusted")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    scratch_ws = Workspace.at(ROOT)
    _, truth, _ = literature_for(scratch_ws, args.claims)
    truth |= labelled_set()[1]
    base = one_run(args.claims, noisy(truth, 0.0, 0), measure=True)
    rows = []
    for error in args.errors:
        for mode in ["measured", *(["trusted"] if args.trusted else [])]:
            differ, wrong, calls, review, which = 0, 0, [], 0, []
            for seed in range(1, args.seeds + 1):
                out = one_run(
                    args.claims, noisy(truth, error, seed), measure=mode == "measured", trust=mode == "trusted"
                )
                changed = [c for c in base["status"] if out["status"][c] != base["status"][c]]
                differ += len(changed)
                wrong += sum(out["status"][c] != "untested" for c in changed)  # moved where it should not have
                which += [f"{c} (seed {seed}): {base['status'][c]} -> {out['status'][c]}" for c in changed]
                calls.append(out["calls_per_pair"] or 0.0)
                review += out["to_review"]
            runs = args.claims * args.seeds
            rows.append(
                {
                    "error": error,
                    "mode": mode,
                    "differ": differ,
                    "wrong_moves": wrong,
                    "claim_runs": runs,
                    "calls_per_pair": round(sum(calls) / len(calls), 2),
                    "to_review": review,
                    "differing": which,
                }
            )
    biased = {
        "measured": one_run(args.claims, always_contradicts, measure=True),
        "not measured": one_run(args.claims, always_contradicts, measure=False),
    }
    result = {"error_free": base, "rows": rows, "always_contradicts": biased}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"{args.claims} claims x {args.seeds} seeds; the error-free judge (qualified: {base['qualified']}) moves"
        f" {base['moved']} of {args.claims} claims, {len(base['contested'])} contested,"
        f" {base['calls_per_pair']} calls per pair"
    )
    print("error  judge     claim-runs differing  of which wrong moves  calls/pair  pairs to review")
    for r in rows:
        share = r["differ"] / r["claim_runs"]
        print(
            f"{r['error']:>5.2f}  {r['mode']:<8}  {r['differ']:>3} of {r['claim_runs']} ({share:>5.1%})"
            f"  {r['wrong_moves']:>20}  {r['calls_per_pair']:>10}  {r['to_review']:>15}"
        )
    for name, out in biased.items():
        print(
            f"always contradicts, {name}: qualified {out['qualified']}, moves {out['moved']} claims,"
            f" {out['to_review']} pairs to review"
        )


if __name__ == "__main__":
    main()
