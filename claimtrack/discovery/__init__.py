"""Literature discovery: fetch newer papers from arXiv, citation graphs and snapshots; index and rank them.

`discover.discover()` is the entry point the agent calls once per claim. Submodules import their heavy
dependencies (arxiv, chromadb, onnxruntime) inside the functions that need them.
"""
