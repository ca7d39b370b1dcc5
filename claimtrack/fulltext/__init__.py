"""Reading past the abstract: a paper's full text from arXiv as passages under their section headings, and the
few passages that bear on a claim, within a token budget (docs/fulltext.md).

    with Reader(ledger, settings) as reader:
        text = reader.read(paper)                      # FullText | Unreadable, never raises for bad input
    if isinstance(text, FullText):
        best = passages_for(claim_text, text, settings.fulltext_budget_tokens, settings)
"""

from claimtrack.fulltext.models import FullText, Passage, Unreadable
from claimtrack.fulltext.passages import passages_for
from claimtrack.fulltext.reader import Reader, read_fulltext

__all__ = ["FullText", "Passage", "Reader", "Unreadable", "passages_for", "read_fulltext"]
