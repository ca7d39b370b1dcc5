"""What the judge costs per (claim, paper) when it reads past the abstract, and what the full text finds.

    python benchmarks/judge_tokens.py [--claims 12] [--papers 10] [--related 0.3] [--budgets 600 1000 1500]

Full `claimtrack run`s (real discovery and ranking, the real full-text reader and passage ranking, the real
openai client, real SQLite and YAML) over the repository's claims, against the loopback servers of
tests/loopback.py: arXiv's API, an HTML full text in LaTeXML's structure for every paper (about 4,000 words in
ten sections, references and an appendix), Semantic Scholar citations of the claims' anchors with citation
contexts for a third of the papers, and a scripted model that answers by the material it is shown:

- a share `--related` of the (claim, paper) pairs bear on the claim. Half of those papers state a condition
  ("holds only for models below N B parameters") in their Results section and nowhere else: a judge that is
  shown that sentence says relaxes, citing it; otherwise it says supports (0.75) from the abstract, or, for
  a third of the related pairs, is unsure (0.5) on the abstract alone;
- an unrelated pair is unrelated at 0.9 (set aside by the first look), or at 0.6 for one in six (read in full,
  then unrelated at 0.9);
- the confirming judgement answers the same way, except for 10% of pairs where it is unsure.

Tokens are the characters sent and received divided by four, as in benchmarks/confirmation_cost.py. One run
per mode: titles and abstracts only (`--no-fulltext`), then the full text with each passage budget. Printed per
mode: pairs judged, set aside at the first look, read in full; judge tokens per pair (first looks and
judgements) and with confirmation; and how many of the conditions that only the Results section states reached
the judge. The last line prices the alternative of not reading the full text of a pair whose first look is
already credible (confirming it on the abstract instead), and counts the conditions that would then be missed.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import html
import json
import os
import re
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from loopback import ChatReply, Entry, Literature, OpenAIServer, user_text  # noqa: E402

from claimtrack.agent.run import RunOptions, execute  # noqa: E402
from claimtrack.config import Settings  # noqa: E402
from claimtrack.models import Claim  # noqa: E402
from claimtrack.store import Store  # noqa: E402
from claimtrack.workspace import Workspace  # noqa: E402

CONDITION = "holds only for models below"


def _share(*parts: str) -> float:
    """A stable number in [0, 1) for a pair or a paper, so every run scripts them the same way."""
    return int(hashlib.sha256("|".join(parts).encode()).hexdigest()[:8], 16) / 2**32


# --- papers -----------------------------------------------------------------------------------------------------

FILLER = [
    "We train {n} models with {term} on a mixture of public instruction datasets.",
    "Each configuration is run with three seeds and we report the mean and the standard error.",
    "Prior work studied {term} mostly on small encoder-decoder models and a handful of benchmarks.",
    "Our evaluation covers reasoning, reading comprehension and code generation tasks held out from training.",
    "The learning rate is warmed up over the first thousand steps and decayed with a cosine schedule.",
    "We release the checkpoints, the data splits and the evaluation harness with the paper.",
    "Table {n} lists the hyperparameters we tuned and the ranges we searched over.",
    "A related line of work measures how much of the gain comes from the output format alone.",
    "We observe that longer training narrows the spread between seeds on most tasks.",
    "The compute budget of each run was about {n} hundred accelerator hours.",
    "Figure {n} shows accuracy as a function of the number of training examples per task.",
    "Data contamination was checked by searching the pretraining corpus for the test items.",
    "We compare against baselines trained with the same data and the same number of steps.",
    "Qualitative inspection of the outputs shows fewer formatting errors after tuning.",
]
SECTIONS = [
    "Introduction",
    "Related Work",
    "Method",
    "Experimental Setup",
    "Results",
    "Analysis",
    "Ablations",
    "Discussion",
    "Limitations",
    "Conclusion",
]


def _paragraph(term: str, seed: str, sentences: int = 6) -> str:
    picks = [FILLER[int(_share(seed, str(i)) * len(FILLER))] for i in range(sentences)]
    return " ".join(s.format(term=term, n=2 + i) for i, s in enumerate(picks))


def latexml_page(title: str, abstract: str, sections: list[tuple[str, list[str]]], references: list[str]) -> bytes:
    """An arXiv HTML page in LaTeXML's class structure (as tests/fixtures/fulltext holds one, written by hand)."""
    esc = html.escape
    parts = [
        "<!DOCTYPE html><html lang='en'><head><title>",
        esc(title),
        "</title></head><body><div class='ltx_page_main'><div class='ltx_page_content'>",
        f"<article class='ltx_document'><h1 class='ltx_title ltx_title_document'>{esc(title)}</h1>",
        "<div class='ltx_abstract'><h6 class='ltx_title ltx_title_abstract'>Abstract</h6>",
        f"<p class='ltx_p'>{esc(abstract)}</p></div>",
    ]
    for number, (heading, paragraphs) in enumerate(sections, 1):
        parts.append(f"<section class='ltx_section' id='S{number}'><h2 class='ltx_title ltx_title_section'>")
        parts.append(f"<span class='ltx_tag ltx_tag_section'>{number} </span>{esc(heading)}</h2>")
        for index, text in enumerate(paragraphs, 1):
            parts.append(f"<div class='ltx_para' id='S{number}.p{index}'><p class='ltx_p'>{esc(text)}</p></div>")
        parts.append("</section>")
    parts.append("<section class='ltx_bibliography' id='bib'><h2 class='ltx_title'>References</h2><ul>")
    parts += [f"<li class='ltx_bibitem'><span class='ltx_bibblock'>{esc(r)}</span></li>" for r in references]
    parts.append("</ul></section><section class='ltx_appendix' id='A1'><h2 class='ltx_title ltx_title_appendix'>")
    parts.append("<span class='ltx_tag ltx_tag_appendix'>Appendix A </span>Prompt templates</h2>")
    parts.append(f"<div class='ltx_para'><p class='ltx_p'>{esc(_paragraph('templates', title))}</p></div>")
    parts.append("</section></article></div></div></body></html>")
    return "".join(parts).encode()


def _conditioned(title: str) -> bool:
    """Half the papers state a condition on their finding, in their Results section only."""
    return _share("condition", title) < 0.5


def _paper(claim: Claim, number: int, index: int) -> tuple[Entry, bytes]:
    terms = claim.search.terms or [claim.title]
    term = terms[index % len(terms)]
    arxiv_id = f"2509.{number:03d}{index:02d}v1"
    title = f"{term.capitalize()}: study {index}"
    abstract = (
        f"We study {term} in {index + 3} model families. We find that {term} changes accuracy by {index + 2} points"
        " on held-out tasks. The effect depends on scale and data."
    )
    size = 3 + index % 5
    if _conditioned(title):
        finding = (
            f"The effect of {term} {CONDITION} {size}B parameters; above that size it reverses by"
            f" {index + 1} points on held-out tasks."
        )
    else:
        finding = f"The effect of {term} is the same across every model size we tested, from 1B to {size * 10}B."
    sections = []
    for heading in SECTIONS:
        paragraphs = [_paragraph(term, f"{title}|{heading}|{i}") for i in range(3)]
        if heading == "Results":
            paragraphs[1] = f"{paragraphs[1]} {finding}"
        if heading == "Introduction" and claim.anchors:
            paragraphs[0] += f" Earlier work reported that {claim.statement[:200].rstrip()}."
        sections.append((heading, paragraphs))
    references = [f"A. Author. A study of {term} number {i}. arXiv preprint, 202{i}." for i in range(12)]
    entry = Entry(arxiv_id, title, abstract, "2025-09-15", categories=tuple(claim.search.categories) or ("cs.CL",))
    return entry, latexml_page(title, abstract, sections, references)


def literature(ws: Workspace, per_claim: int) -> tuple[list[Entry], dict[str, bytes], dict[str, list[dict]]]:
    entries, pages, s2 = [], {}, {}
    for number, claim in enumerate(Store(ws).load().claims.values()):
        for index in range(per_claim):
            entry, page = _paper(claim, number, index)
            entries.append(entry)
            pages[entry.arxiv_id] = page
            for anchor in claim.anchor_ids[:1]:
                citing = s2.setdefault(f"arXiv:{anchor}", [])
                if _share("cites", entry.title) < 1 / 3:
                    context = f"Unlike the original study, we find that {entry.title.split(':')[0].lower()} helps."
                    citing.append(
                        {
                            "contexts": [context],
                            "intents": ["result"],
                            "isInfluential": False,
                            "citingPaper": {
                                "paperId": f"s2-{entry.base_id}",
                                "title": entry.title,
                                "abstract": entry.abstract,
                                "externalIds": {"ArXiv": entry.base_id},
                                "publicationDate": "2025-09-15",
                            },
                        }
                    )
    return entries, pages, s2


# --- the scripted model ----------------------------------------------------------------------------------------


def _line(pattern: str, text: str) -> str:
    """The first group of the first line matching `pattern`; the scripted judge is only asked well-formed requests."""
    found = re.search(pattern, text, re.MULTILINE)
    if found is None:
        raise ValueError(f"no line matches {pattern!r} in the request")
    return found[1]


class Script:
    """Answers by what it is shown, and records what each request cost and carried."""

    def __init__(self, related: float) -> None:
        self.related = related
        self.calls: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def __call__(self, request: dict[str, Any]) -> ChatReply:
        system, user = request["messages"][0]["content"], user_text(request)
        if "Propose arXiv search queries" in system:
            return self._reply(system, user, {"queries": ["scaling study", "held-out generalisation"]}, "plan")
        role = "confirm" if "You review research papers" in system else "judge"
        question, title = _line(r"^Question: (.*)$", user), _line(r"^\[1\] (.*)$", user)
        full = "\nFull text" in user
        shown = re.findall(r"^\[(\d+)\] (.*)$", user, re.MULTILINE)
        condition = next((int(n) for n, text in shown if CONDITION in text), None)
        draw = _share(question, title)
        if draw < self.related:
            unsure = role == "confirm" and _share("confirm", question, title) < 0.1
            if unsure:
                body = {"stance": "supports", "sentences": [3], "confidence": 0.4}
            elif condition is not None:
                body = {"stance": "relaxes", "sentences": [condition], "confidence": 0.8, "scope_note": "small models"}
            elif not full and draw < self.related / 3:
                body = {"stance": "supports", "sentences": [3], "confidence": 0.5}
            else:
                body = {"stance": "supports", "sentences": [3], "confidence": 0.75}
        elif not full and _share("unsure", question, title) < 1 / 6:
            body = {"stance": "unrelated", "sentences": [], "confidence": 0.6}
        else:
            body = {"stance": "unrelated", "sentences": [], "confidence": 0.9}
        body.setdefault("scope_note", None)
        body["rationale"] = "The cited sentence reports the finding that decides the stance for this claim."
        record = {
            "role": role,
            "pair": (question, title),
            "full": full,
            "related": draw < self.related,
            "conditioned": _conditioned(title),
            "condition_seen": condition is not None,
            "stance": body["stance"],
            "confidence": body["confidence"],
        }
        return self._reply(system, user, body, role, record)

    def _reply(self, system: str, user: str, body: dict, role: str, record: dict | None = None) -> ChatReply:
        text = json.dumps(body)
        reply = ChatReply(content=text, tokens_in=(len(system) + len(user)) // 4, tokens_out=len(text) // 4)
        with self._lock:
            self.calls.append({"role": role, "tokens": reply.tokens_in + reply.tokens_out, **(record or {})})
        return reply


# --- runs --------------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def scripted_library(claims: int, papers: int) -> Iterator[tuple[Workspace, list[Entry], dict, dict, dict]]:
    """A scratch workspace with the first `claims` claims of the repository, and its scripted literature: arXiv
    entries, their full texts, Semantic Scholar's citations and OpenAlex's (none)."""
    with tempfile.TemporaryDirectory(prefix="claimtrack-scripted-") as scratch:
        root = Path(scratch)
        (root / "claims").mkdir()
        for path in sorted((ROOT / "claims").glob("*.yaml"))[:claims]:
            shutil.copy(path, root / "claims")
        ws = Workspace.at(root)
        entries, pages, s2 = literature(ws, papers)
        openalex = {a: [] for c in Store(ws).load().claims.values() for a in c.anchor_ids}
        yield ws, entries, pages, s2, openalex


def one_run(claims: int, papers: int, related: float, k: int, budget: int | None) -> dict[str, Any]:
    """One run over fresh copies of the claims; budget None: --no-fulltext."""
    with scripted_library(claims, papers) as (ws, entries, pages, s2, openalex):
        script = Script(related)
        with (
            Literature(entries, s2=s2, openalex=openalex, html=pages) as server,
            OpenAIServer(responder=script) as llm,
        ):
            env = {**server.env(), **llm.env(), "CLAIMTRACK_HTTP_RETRIES": "0"}
            if budget is not None:
                env["CLAIMTRACK_FULLTEXT_BUDGET_TOKENS"] = str(budget)
            with mock.patch.dict(os.environ, env):
                options = RunOptions(
                    all=True, replicate=False, k=k, fulltext=budget is not None, trust_judge=True
                )  # unmeasured
                summary = execute(ws, options, settings=Settings())
    totals = summary.as_dict()["totals"]
    return {"budget": budget, "totals": totals, **_findings(script.calls)}


def _findings(calls: list[dict[str, Any]]) -> dict[str, Any]:
    """What the full text found, and what the alternative (confirm a credible first look on the abstract and
    read no further) would have cost and missed."""
    judged = [c for c in calls if c["role"] == "judge"]
    conditioned = {c["pair"] for c in judged if c["related"] and c["conditioned"]}
    seen = {c["pair"] for c in judged if c["condition_seen"]}
    by_pair: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for call in calls:
        if call["role"] in ("judge", "confirm"):
            by_pair.setdefault(call["pair"], []).append(call)
    now = alternative = missed = 0
    for pair, asked in by_pair.items():
        looks = [c for c in asked if c["role"] == "judge" and not c["full"]]
        now += sum(c["tokens"] for c in asked)
        credible_look = looks and looks[0]["stance"] != "unrelated" and looks[0]["confidence"] >= 0.6
        if credible_look and any(c["full"] for c in asked):
            alternative += 2 * looks[0]["tokens"]  # the look, and a confirmation of the same material
            missed += pair in seen
        else:
            alternative += sum(c["tokens"] for c in asked)
    pairs = len(by_pair)
    return {
        "conditions": len(conditioned),
        "conditions_seen": len(conditioned & seen),
        "alternative_tokens_per_pair": round(alternative / pairs) if pairs else None,
        "tokens_per_pair_here": round(now / pairs) if pairs else None,
        "alternative_misses": missed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=12)
    parser.add_argument("--papers", type=int, default=10)
    parser.add_argument("--related", type=float, default=0.3)
    parser.add_argument("--budgets", type=int, nargs="+", default=[600, 1000, 1500])
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = [one_run(args.claims, args.papers, args.related, args.k, b) for b in [None, *args.budgets]]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(
        f"{args.claims} claims, {args.papers} papers each, {args.related:.0%} of pairs related, k={args.k};"
        " tokens = characters / 4"
    )
    print("mode              pairs  set aside  read in full  tokens/pair  with confirmation  conditions seen")
    for r in rows:
        t = r["totals"]
        mode = "abstracts only" if r["budget"] is None else f"full text, {r['budget']:>4}"
        print(
            f"{mode:<16}  {t['pairs_judged']:>5}  {t['pairs_set_aside']:>9}  {t['pairs_read_in_full']:>12}"
            f"  {t['tokens_per_pair'] or 0:>11}  {t['tokens_per_pair_with_confirmation'] or 0:>17}"
            f"  {r['conditions_seen']:>7} of {r['conditions']}"
        )
    for r in rows[1:]:
        print(
            f"budget {r['budget']}: confirming a credible first look on the abstract instead of reading on would cost"
            f" {r['alternative_tokens_per_pair']} tokens per pair (against {r['tokens_per_pair_here']}) and miss"
            f" {r['alternative_misses']} of the {r['conditions_seen']} conditions found"
        )


if __name__ == "__main__":
    main()
