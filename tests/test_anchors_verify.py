"""`claimtrack anchors verify` and `anchors set` against a loopback arXiv: drift in title, first author and date,
figures missing from the anchor's abstract, unknown and withdrawn ids, versions, the cache, exit codes, and a
person's decision dated in the history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from anchor_helpers import DPO_LENGTH, JUDGE_LENGTH, REWARD_LENGTH, SYCOPHANCY
from conftest import SEEDS, invoke
from loopback import ArxivAPI, ArxivFullText, Entry, Loopback

from claimtrack.anchors.figures import figures, found_in
from claimtrack.anchors.verify import looks_like_name, normal_title, same_person
from claimtrack.discovery.http import forget_down_hosts
from claimtrack.errors import ChangeRefused
from claimtrack.models import Anchor, AnchorDecision, Claim, Figure
from claimtrack.store import Store
from claimtrack.workspace import Workspace

WITHDRAWN = (
    Entry("2402.90008v1", "Scaling Laws for Something", "We find a law.", "2024-02-01", authors=("Lee Kim",)),
    Entry(
        "2402.90008v2",
        "Scaling Laws for Something",
        "This paper has been withdrawn by the authors due to an error in the main proof.",
        "2024-02-01",
        authors=("Lee Kim",),
        comment="This paper has been withdrawn",
        updated="2024-03-01",
    ),
)
REORDERED = (  # v2 lists one first author, v4 another: an anchor that records v2 is right about v2
    Entry(
        "2505.90007v2",
        "Beyond Tokens",
        "Traces swapped for unrelated ones keep accuracy.",
        "2025-05-19",
        authors=("Kaya Stone", "Karl Vale"),
    ),
    Entry(
        "2505.90007v4",
        "Beyond Tokens",
        "Traces swapped for unrelated ones keep accuracy.",
        "2025-05-19",
        authors=("Karl Vale", "Kaya Stone"),
        updated="2026-05-02",
    ),
)
ENTRIES = [JUDGE_LENGTH, SYCOPHANCY, REWARD_LENGTH, DPO_LENGTH, *WITHDRAWN, *REORDERED]


def _anchor(entry: Entry, **kw: object) -> Anchor:
    fields = {
        "arxiv": entry.base_id,
        "title": entry.title,
        "first_author": entry.authors[0],
        "date": entry.published[:7],
    }
    return Anchor(**{**fields, **kw})


def _claim(claim_id: str, anchors: list[Anchor], numbers: list[object] = ()) -> Claim:
    return Claim(id=claim_id, title=f"Does {claim_id} hold?", statement="A finding.", anchors=anchors, numbers=numbers)


@pytest.fixture
def ws(empty_workspace: Path) -> Path:
    store = Store(Workspace.at(empty_workspace))
    store.create_claim(_claim("clean", [_anchor(JUDGE_LENGTH)], ["agreement with human rankings 0.98 (anchor)"]))
    store.create_claim(
        _claim(
            "drifted",
            [
                _anchor(
                    SYCOPHANCY,
                    title="Understanding Sycophancy",
                    first_author="uncertain: Mira Shah or Ethan Price (mirror order)",
                    date="2024-01",
                )
            ],
            ["Five assistants (anchor)", "12 assistants (seed)"],
        )
    )
    store.create_claim(_claim("gone", [Anchor(arxiv="2401.99999", title="A paper"), _anchor(WITHDRAWN[1])]))
    store.create_claim(
        _claim(
            "versioned",
            [_anchor(REORDERED[0], version="v2")],
            [{"text": "'within the first epoch' (seed)", "unconfirmed": "not in any anchor text the audit saw"}],
        )
    )
    store.create_claim(
        _claim(
            "stale-mark", [_anchor(REWARD_LENGTH)], [{"text": "'to equal length' (seed)", "unconfirmed": "not checked"}]
        )
    )
    store.create_claim(Claim(id="bare", title="Is it bare?", statement="No paper yet.", anchor_note="None found."))
    return empty_workspace


FULLTEXTS = ArxivFullText()


@pytest.fixture
def arxiv(monkeypatch: pytest.MonkeyPatch):
    FULLTEXTS.html.clear()
    forget_down_hosts()
    with Loopback() as server:
        server.mount(ArxivAPI(ENTRIES))
        server.mount(FULLTEXTS)  # holds no paper until a test adds one: every full text is a 404
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        yield server


def test_each_kind_of_drift_is_reported_as_file_field_message(ws: Path, arxiv: Loopback) -> None:
    result = invoke("-w", str(ws), "anchors", "verify")
    assert result.exit_code == 1, result.stderr
    lines = result.stdout.splitlines()
    expected = [
        f"claims/drifted.yaml: anchors.0.title: 'Understanding Sycophancy' but arXiv has '{SYCOPHANCY.title}'",
        "claims/drifted.yaml: anchors.0.first_author: 'uncertain: Mira Shah or Ethan Price (mirror order)' is not a "
        "person's name; 2310.90002v1 lists 'Mira Shah' first",
        "claims/drifted.yaml: anchors.0.date: 2024-01 but arXiv dates it 2023-10-20",
        "claims/drifted.yaml: numbers.1: 12 not found in the abstract of 2310.90002v1",
        "claims/gone.yaml: anchors.0.arxiv: arXiv lists no paper 2401.99999",
        "claims/gone.yaml: anchors.1.arxiv: 2402.90008v2 is withdrawn on arXiv: This paper has been withdrawn",
        "claims/stale-mark.yaml: numbers.0: marked unconfirmed, but the abstract of 2310.90003v1 carries it; "
        "confirm it (drop the mark)",
        "claims/versioned.yaml: numbers.0: unconfirmed: not in any anchor text the audit saw; not in the abstract "
        "of 2505.90007v2",
    ]
    assert sorted(lines) == sorted(expected)  # nothing for `clean`, nor for the figure "Five" that is there
    assert "6 anchors checked: 7 drift, 1 figures marked unconfirmed" in result.stderr


def test_clean_anchors_exit_0_and_an_unconfirmed_mark_is_listed_not_failed(ws: Path, arxiv: Loopback) -> None:
    result = invoke("-w", str(ws), "anchors", "verify", "clean", "versioned", "bare")
    assert result.exit_code == 0, result.stdout
    assert result.stdout.splitlines() == [
        "claims/versioned.yaml: numbers.0: unconfirmed: not in any anchor text the audit saw; not in the abstract "
        "of 2505.90007v2"
    ]


def test_json_items_name_claim_anchor_field_both_values_and_message(ws: Path, arxiv: Loopback) -> None:
    result = invoke("-w", str(ws), "anchors", "verify", "drifted", "--json")
    assert result.exit_code == 1
    items = json.loads(result.stdout)
    author = next(i for i in items if i["field"] == "anchors.0.first_author")
    assert author == {
        "claim": "drifted",
        "file": "claims/drifted.yaml",
        "anchor": SYCOPHANCY.base_id,
        "field": "anchors.0.first_author",
        "stored": "uncertain: Mira Shah or Ethan Price (mirror order)",
        "arxiv": "Mira Shah",
        "message": author["message"],
        "kind": "drift",
    }
    date = next(i for i in items if i["field"] == "anchors.0.date")
    assert (date["stored"], date["arxiv"]) == ("2024-01", "2023-10-20")


def test_bad_input_exits_2_before_arxiv_is_asked(ws: Path, arxiv: Loopback) -> None:
    result = invoke("-w", str(ws), "anchors", "verify", "no-such-claim")
    assert result.exit_code == 2 and result.stderr.startswith("error: unknown claim id 'no-such-claim'")
    (ws / "claims" / "broken.yaml").write_text("id: broken\nstatus: maybe\n")
    assert invoke("-w", str(ws), "anchors", "verify").exit_code == 2
    assert arxiv.requests == []


def test_records_are_cached_per_id_and_version(ws: Path, arxiv: Loopback, monkeypatch) -> None:
    assert invoke("-w", str(ws), "anchors", "verify", "--no-fulltext").exit_code == 1
    first = len(arxiv.requests)
    assert first == 2  # one id_list for the newest versions, one for the version an anchor names
    assert invoke("-w", str(ws), "anchors", "verify", "--no-fulltext").exit_code == 1
    # Within a day only the id arXiv does not list is asked again (it may have been announced since).
    assert [r.query["id_list"] for r in arxiv.requests[first:]] == ["2401.99999"]
    first = len(arxiv.requests)
    monkeypatch.setenv("CLAIMTRACK_HTTP_CACHE_TTL_S", "0")
    assert invoke("-w", str(ws), "anchors", "verify", "--no-fulltext").exit_code == 1
    asked = [r.query["id_list"] for r in arxiv.requests[first:]]
    assert len(asked) == 1 and "2404.90001" in asked[0] and "v2" not in asked[0]  # a listed version never changes


def test_a_missing_version_is_told_apart_from_an_unknown_paper(ws: Path, arxiv: Loopback) -> None:
    Store(Workspace.at(ws)).update_claim("versioned", lambda c: setattr(c.anchors[0], "version", "v3"))
    result = invoke("-w", str(ws), "anchors", "verify", "versioned")
    assert result.exit_code == 1
    assert "claims/versioned.yaml: anchors.0.version: arXiv lists no v3 of 2505.90007 (its newest is v4)" in (
        result.stdout
    )


def test_set_links_a_claim_and_dates_the_decision_in_its_history(ws: Path, arxiv: Loopback) -> None:
    result = invoke(
        "-w", str(ws), "anchors", "set", "bare", "--arxiv", DPO_LENGTH.base_id, "--because", "Read the paper.",
        "--by", "ada",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"bare: arXiv:{DPO_LENGTH.arxiv_id} '{DPO_LENGTH.title}' (Rui Park, 2024-04)")
    claim = Store(Workspace.at(ws)).load().claims["bare"]
    assert claim.anchors[0].confidence == "verified" and claim.anchors[0].first_author == "Rui Park"
    assert claim.claimed == "2024-04" and claim.search.categories == ["cs.LG"]
    decision = claim.history[-1]
    assert isinstance(decision, AnchorDecision) and decision.by == "person:ada"
    assert decision.changes == [f"linked arXiv:{DPO_LENGTH.base_id}"] and decision.rationale == "Read the paper."
    assert claim.status == "untested" and claim.status_changes == []  # a decision moves no status
    shown = invoke("-w", str(ws), "show", "bare").stdout
    assert f"anchor arXiv:{DPO_LENGTH.base_id} set verified by person:ada" in shown
    log = invoke("-w", str(ws), "log", "bare").stdout
    assert f"bare  anchor arXiv:{DPO_LENGTH.base_id} set verified  by person:ada" in log
    assert json.loads(invoke("-w", str(ws), "log", "--json").stdout)[0]["event"] == "anchor"
    assert invoke("-w", str(ws), "validate").exit_code == 0
    assert invoke("-w", str(ws), "anchors", "verify", "bare").exit_code == 0


def test_set_corrects_a_drifted_anchor_and_names_each_change(ws: Path, arxiv: Loopback) -> None:
    result = invoke("-w", str(ws), "anchors", "set", "drifted", "--arxiv", SYCOPHANCY.base_id, "--confidence", "likely")
    assert result.exit_code == 0, result.stderr
    claim = Store(Workspace.at(ws)).load().claims["drifted"]
    assert claim.history[-1].changes == [
        f"title: 'Understanding Sycophancy' -> '{SYCOPHANCY.title}'",
        "first_author: 'uncertain: Mira Shah or Ethan Price (mirror order)' -> 'Mira Shah'",
        "date: '2024-01' -> '2023-10'",
        "confidence: 'verified' -> 'likely'",
    ]
    assert [a.arxiv for a in claim.anchors] == [SYCOPHANCY.base_id]
    verified = invoke("-w", str(ws), "anchors", "verify", "drifted").stdout
    assert "anchors.0" not in verified and "numbers.1: 12 not found" in verified  # the figure is still not there


def test_set_pins_a_version_and_refuses_bad_input(ws: Path, arxiv: Loopback) -> None:
    pinned = invoke("-w", str(ws), "anchors", "set", "versioned", "--arxiv", "2505.90007v2")
    assert pinned.exit_code == 0, pinned.stderr
    anchor = Store(Workspace.at(ws)).load().claims["versioned"].anchors[0]
    assert (anchor.version, anchor.first_author) == ("v2", "Kaya Stone")
    for args, message in [
        (["--arxiv", "2401.99999"], "error: --arxiv: arXiv lists no paper 2401.99999"),
        (["--arxiv", "nonsense"], "error: --arxiv: 'nonsense' is not an arXiv id"),
        (["--arxiv", DPO_LENGTH.base_id, "--confidence", "resolved"], "error: --confidence: 'resolved' is not one"),
    ]:
        result = invoke("-w", str(ws), "anchors", "set", "bare", *args)
        assert result.exit_code == 2 and result.stderr.startswith(message), result.stderr
    assert invoke("-w", str(ws), "anchors", "set", "nope", "--arxiv", DPO_LENGTH.base_id).exit_code == 2


def test_a_person_replaces_machine_search_proposals_but_keeps_other_anchors() -> None:
    machine = Anchor(arxiv="2404.90004", title="T", confidence="resolved", found_by="search", score=0.5)
    curated = Anchor(arxiv="2310.90003", title="U", confidence="likely")
    claim = Claim(id="c", title="Q?", statement="S.", anchors=[machine, curated])
    chosen = Anchor(arxiv="2404.90001", title="V")
    decision = AnchorDecision(at="2026-01-02T00:00:00Z", by="person:ada", arxiv="2404.90001", confidence="verified",
                              rationale="r")  # fmt: skip
    claim.decide_anchor(chosen, decision)
    assert [a.arxiv for a in claim.anchors] == ["2404.90001", "2310.90003"]
    earlier = decision.model_copy(update={"at": decision.at.replace(year=2025)})
    with pytest.raises(ChangeRefused, match="before the history's last entry"):
        claim.decide_anchor(chosen, earlier)
    with pytest.raises(ValueError, match="a person's decision is verified, likely or uncertain"):
        AnchorDecision(at="2026-01-02T00:00:00Z", by="p", arxiv="2404.90001", confidence="resolved", rationale="r")


def test_plain_figures_stay_plain_text_and_marked_ones_are_mappings() -> None:
    claim = _claim("c", [], ["43% exact-match", {"text": "0.37 -> 0.03", "unconfirmed": "secondary summary only"}])
    dumped = claim.model_dump(mode="json", exclude_none=True)["numbers"]
    assert dumped == ["43% exact-match", {"text": "0.37 -> 0.03", "unconfirmed": "secondary summary only"}]
    assert Claim.model_validate(claim.model_dump(mode="json")).numbers == claim.numbers
    with pytest.raises(ValueError, match="is not arXiv:ID"):
        Figure(text="80-90%", source="2212.10001")


@pytest.mark.parametrize(
    ("entry", "text", "found"),
    [
        (
            "43% exact-match (instruction-tuned model; anchor)",
            "it achieves similar performance (43\\% exact-match)",
            True,
        ),
        ("~30% exact-match (untuned T5)", "outperform naive T5 (30 percent per exact-match)", True),
        ("eight text-only and vision-language models (seed)", "We train 8 models", True),
        ("3 faithfulness tests", "three tests of faithfulness", True),
        ("150M and 1B parameter models", "models of 150 million and 1B parameters", True),
        ("2.73x average wall-clock speedup (8B model)", "a 2.73× speedup", True),
        ("'within the first epoch' (seed)", "converges within the first epoch of RL", True),
        ("'within the first epoch' (seed)", "converges early in training", False),
        ("HotPotQA ECE 0.37 -> 0.03", "ECE falls from 0.37 to 0.05 on HotPotQA", False),
        ("12 assistants", "GSM8K and MATH12 with 120 assistants", False),
    ],
)
def test_figures_are_found_in_text_by_value_and_unit(entry: str, text: str, found: bool) -> None:
    wanted = figures(entry)
    assert wanted and all(found_in(f, text) for f in wanted) is found


def test_names_titles_and_dates_are_compared_loosely_but_not_blindly() -> None:
    assert looks_like_name("Po-Nien Kung") and looks_like_name("Alexander Y. Ku") and looks_like_name("Jan van Berg")
    assert not looks_like_name("uncertain: Yue Cheng (kurate.org order)")
    assert not looks_like_name("Chaojun Nie (from repo/citation 'Nie et al.'; not seen on arXiv page)")
    assert not looks_like_name("the first author")
    assert same_person("Alexander Y. Ku", "Alexander Ku") and same_person("J. Simon", "Jamie Simon")
    assert same_person("Zoë Müller", "Zoe Muller") and not same_person("Yue Cheng", "Jiajun Zhang")
    assert normal_title("$\\mathcal{O}(n)$ Attention:  Fast \\emph{and} Exact") == normal_title(
        "O(n) attention: fast and exact"
    )
    assert normal_title("Echo Chamber: RL") != normal_title("Echo Chambers: RL")


def test_the_committed_store_agrees_with_the_audited_facts(repo_workspace: Path, monkeypatch) -> None:
    """arXiv as the audit of issue 12 saw it (tests/fixtures/seeds/anchors.yaml: id, title, first author, date and
    version; no abstracts): no drift in the committed store, and the figures the audit could not find are listed."""
    sheet = yaml.safe_load((SEEDS / "anchors.yaml").read_text())
    entries = [
        Entry(
            f"{a['arxiv']}{a.get('version') or 'v1'}", a["title"], "", f"{a['date']}-15", authors=(a["first_author"],)
        )
        for a in (e["anchor"] for e in sheet if e["anchor"])
    ]
    # The two papers figures are cited from by source (the audit's notes name them).
    omni = next(e for e in entries if e.base_id == "2507.14783")
    entries += [
        Entry("2507.14783v1", "Omni-Think: Scaling Cross-Domain Generalization in LLMs via Multi-Task RL with Hybrid"
              " Rewards", "", omni.published, authors=omni.authors),
        Entry("2212.10001v1", "Towards Understanding Chain-of-Thought Prompting: An Empirical Study of What Matters",
              "", "2022-12-20"),
    ]  # fmt: skip
    entries[entries.index(omni)] = Entry("2507.14783v3", omni.title, "", omni.published, authors=omni.authors)
    forget_down_hosts()
    with Loopback() as server:
        server.mount(ArxivAPI(entries))
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        result = invoke("-w", str(repo_workspace), "anchors", "verify")
    assert result.exit_code == 0, result.stdout
    unconfirmed = sorted(
        line.split(":")[0].removeprefix("claims/").removesuffix(".yaml") for line in result.stdout.splitlines()
    )
    assert unconfirmed == [
        "activation-steered-cot-compression",
        "binary-reward-hurts-calibration",
        "rl-amplifies-one-pretraining-format",
        "rl-two-phase-execution-then-planning",
        "training-order-prevents-entropy-collapse",
    ]
    assert all(": unconfirmed: " in line for line in result.stdout.splitlines())
    assert "28 anchors checked: 0 drift, 5 figures marked unconfirmed" in result.stderr


RESULTS_PAGE = """<html><body><article class="ltx_document">
<h1 class="ltx_title ltx_title_document">Sycophancy across assistants</h1>
<div class="ltx_abstract"><h6 class="ltx_title ltx_title_abstract">Abstract</h6><p class="ltx_p">An abstract.</p></div>
<section class="ltx_section" id="S4"><h2 class="ltx_title ltx_title_section"><span class="ltx_tag">4 </span>Results</h2>
<div class="ltx_para"><p class="ltx_p">Across the 12 assistants we tested, agreement with the user rose
with tuning.</p></div>
</section></article></body></html>"""


def test_a_figure_missing_from_the_abstract_is_looked_up_in_the_full_text(ws: Path, arxiv: Loopback) -> None:
    FULLTEXTS.html["2310.90002v1"] = RESULTS_PAGE.encode()
    missing = "claims/drifted.yaml: numbers.1: 12 not found in the abstract of 2310.90002v1"

    found = invoke("-w", str(ws), "anchors", "verify", "drifted")
    assert found.exit_code == 1, found.stderr  # the title, author and date drifts remain
    assert not any(line.startswith("claims/drifted.yaml: numbers.") for line in found.stdout.splitlines())
    html_reads = [r for r in arxiv.requests if r.path.startswith("/html/")]
    assert [r.path for r in html_reads] == ["/html/2310.90002v1"]  # read only for the figure the abstract lacked

    abstract_only = invoke("-w", str(ws), "anchors", "verify", "drifted", "--no-fulltext")
    assert missing in abstract_only.stdout.splitlines()
