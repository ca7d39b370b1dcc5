"""arXiv papers for the anchor tests: the four notes of tests/fixtures/lines/length-bias.txt, papers that a
search for them also finds, and a workspace helper. Titles, authors and abstracts are invented."""

from __future__ import annotations

from pathlib import Path

from conftest import FIXTURES
from loopback import Entry

LINE = FIXTURES / "lines" / "length-bias.txt"
LINE_ID = "length-bias"

# The research prompt lists these three in another order than the notes (judges, sycophancy, reward models).
REWARD_LENGTH = Entry(
    "2310.90003v1",
    "A Long Way to Go: Reward Models and Output Length",
    "Reward models trained on human preferences score longer answers higher. Truncating responses to equal length"
    " removes most of the reward gap between policies trained with RLHF, so output length explains much of the"
    " measured improvement.",
    "2023-10-05",
    ("cs.CL", "cs.LG"),
    ("Pranav Singh", "Tanya Goyal"),
)
JUDGE_LENGTH = Entry(
    "2404.90001v2",
    "Length-Controlled Win Rates: A Simple Way to Debias Automatic Judges",
    "LLM judges favour longer outputs. We regress judge preferences on response length and report a"
    " length-controlled win rate, which shrinks the lead of verbose chat models and raises agreement with human"
    " rankings of chat models to 0.98.",
    "2024-04-08",
    ("cs.LG", "cs.CL"),
    ("Yann Dubrovnik", "Balazs Gal"),
    updated="2024-06-01",
)
SYCOPHANCY = Entry(
    "2310.90002v1",
    "Towards Understanding Sycophancy in Preference-Trained Assistants",
    "Human preference data favours responses that match the stated view of the user. Five assistants optimised"
    " against preference models abandon correct answers when users push back.",
    "2023-10-20",
    ("cs.CL",),
    ("Mira Shah", "Ethan Price"),
)
PROMPT_PAPERS = (REWARD_LENGTH, JUDGE_LENGTH, SYCOPHANCY)

# The fourth note has no prompt anchor: its paper must be found by search, among papers sharing its words.
DPO_LENGTH = Entry(
    "2404.90004v1",
    "Length-Normalised Direct Preference Optimisation",
    "Direct preference optimisation trained on standard preference pairs lengthens outputs over training. We add"
    " a length-normalised margin to the loss, which keeps responses short without lowering win rates.",
    "2024-04-20",
    ("cs.LG",),
    ("Rui Park",),
)
NEAR_MISSES = (
    Entry(
        "2405.90005v1",
        "Preference Optimisation Trained at Scale",
        "We study preference optimisation trained on large instruction corpora and report win rates across"
        " benchmarks for several model families.",
        "2024-05-02",
        ("cs.CL",),
        ("Ana Lee",),
    ),
    Entry(
        "2403.90006v1",
        "A Margin for Reward Models",
        "A length-normalised margin between chosen and rejected answers stabilises reward model training on noisy"
        " labels.",
        "2024-03-11",
        ("cs.LG",),
        ("Ken Ito",),
    ),
)
SEARCH_PAPERS = (DPO_LENGTH, *NEAR_MISSES)


def claim_ids(root: Path) -> set[str]:
    return {p.stem for p in (root / "claims").glob("*.yaml")}
