"""What confirmation costs: the extra LLM tokens of a scripted `claimtrack run`, against the rest of the run.

    python benchmarks/confirmation_cost.py [--claims 12] [--papers 10] [--credible 0.15 0.3 0.45] [--k 8]

A real run (real discovery and ranking, the real openai client, real SQLite and YAML) over the repository's
claims, against the loopback arXiv and OpenAI servers of tests/loopback.py. Each claim gets `--papers` papers
that its search terms find; a scripted model judges every pair, a share `--credible` of them credibly (the
rest unrelated or unsure), and confirms 85% of those. Tokens are counted as the characters sent and received
divided by four, so a long prompt costs more than a short one, as with a real model. For each credible share
the run is made afresh, and the table gives the confirmation tokens as a share of all the run's other tokens
(query plans and first judgements): what an unconfirmed run would have cost. The target is under 40%.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
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

from claimtrack.agent.run import RunOptions, execute  # noqa: E402
from claimtrack.config import Settings  # noqa: E402
from claimtrack.store import Store  # noqa: E402
from claimtrack.workspace import Workspace  # noqa: E402


def _share(*parts: str) -> float:
    """A stable number in [0, 1) for a pair, so every run scripts the same pairs the same way."""
    return int(hashlib.sha256("|".join(parts).encode()).hexdigest()[:8], 16) / 2**32


def scripted(credible: float) -> Any:
    def respond(request: dict[str, Any]) -> ChatReply:
        system, user = request["messages"][0]["content"], user_text(request)
        if "Propose arXiv search queries" in system:
            body: dict[str, Any] = {"queries": ["instruction tuning ablation", "reasoning faithfulness probe"]}
        else:
            confirming = "You review research papers" in system
            question = next(line for line in user.splitlines() if line.startswith("Question: "))
            title = next(line for line in user.splitlines() if line.startswith("[1] "))
            draw = _share(question, title)
            if draw < credible and not (confirming and _share(title, question) < 0.15):
                stance = "supports" if draw < 0.6 * credible else "relaxes" if draw < 0.85 * credible else "supersedes"
                body = {"stance": stance, "sentences": [2], "confidence": 0.8, "scope_note": None}
            elif draw < credible + 0.1:
                body = {"stance": "supports", "sentences": [2], "confidence": 0.4, "scope_note": None}
            else:
                body = {"stance": "unrelated", "sentences": [], "confidence": 0.9, "scope_note": None}
            body["rationale"] = "The cited sentence reports the finding that decides the stance for this claim."
        reply = json.dumps(body)
        return ChatReply(content=reply, tokens_in=(len(system) + len(user)) // 4, tokens_out=len(reply) // 4)

    return respond


def papers_for(ws: Workspace, per_claim: int) -> list[Entry]:
    entries = []
    for number, claim in enumerate(Store(ws).load().claims.values()):
        terms = claim.search.terms or [claim.title]
        for index in range(per_claim):
            term = terms[index % len(terms)]
            entries.append(
                Entry(
                    f"2509.{number:03d}{index:02d}v1",
                    f"{term.capitalize()}: study {index}",
                    f"We study {term} in {index + 3} model families. We find that {term} changes accuracy by"
                    f" {index + 2} points on held-out tasks. The effect depends on scale and data.",
                    "2025-09-15",
                    categories=tuple(claim.search.categories) or ("cs.CL",),
                )
            )
    return entries


def one_run(claims: int, papers: int, credible: float, k: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="claimtrack-confirm-cost-") as scratch:
        root = Path(scratch)
        (root / "claims").mkdir()
        chosen = sorted((ROOT / "claims").glob("*.yaml"))[:claims]
        for path in chosen:
            shutil.copy(path, root / "claims")
        ws = Workspace.at(root)
        with Literature(papers_for(ws, papers)) as literature, OpenAIServer(responder=scripted(credible)) as llm:
            env = {**literature.env(), **llm.env(), "CLAIMTRACK_HTTP_RETRIES": "0"}
            with mock.patch.dict(os.environ, env):
                # the scripted model is not measured: trusted, so its agreed pairs count (by confidence)
                options = RunOptions(all=True, replicate=False, k=k, trust_judge=True)
                summary = execute(ws, options, settings=Settings())
        data = summary.as_dict()
        totals, purposes = data["totals"], data["llm_by_purpose"]
        judged = totals["pairs_judged"]
        return {
            "credible_share": credible,
            "pairs_judged": judged,
            "pairs_confirmed": totals["pairs_confirmed"],
            "pairs_to_review": totals["pairs_to_review"],
            "confirm_calls": purposes.get("confirm", {}).get("calls", 0),
            "tokens": {p: v["tokens_in"] + v["tokens_out"] for p, v in purposes.items()},
            "confirm_tokens": totals["confirm_tokens"],
            "confirm_share": totals["confirm_share"],
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=12)
    parser.add_argument("--papers", type=int, default=10)
    parser.add_argument("--credible", type=float, nargs="+", default=[0.15, 0.3, 0.45])
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = [one_run(args.claims, args.papers, share, args.k) for share in args.credible]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{args.claims} claims, {args.papers} papers each, k={args.k}; tokens = characters / 4")
    print("credible  pairs  confirmed  review  confirm calls  plan+judge tokens  confirm tokens  share")
    for r in rows:
        rest = sum(v for p, v in r["tokens"].items() if p != "confirm")
        print(
            f"{r['credible_share']:>8.0%}  {r['pairs_judged']:>5}  {r['pairs_confirmed']:>9}  {r['pairs_to_review']:>6}"
            f"  {r['confirm_calls']:>13}  {rest:>17}  {r['confirm_tokens']:>14}  {r['confirm_share']:>5.1%}"
        )


if __name__ == "__main__":
    main()
