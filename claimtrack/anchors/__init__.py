"""Anchors that resolve and verify themselves: linking notes to arXiv papers (from a research prompt or by
search), checking stored anchors against arXiv, and a person's decisions about them (docs/store.md)."""
