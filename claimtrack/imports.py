"""The lock under which threads import the heavy stacks for the first time: chromadb and numpy (vector ranking),
torch, tokenizers and transformers (the MiniLM encoder), huggingface_hub and lm-eval (a replication probe).

Why: a run imports these only when a claim reaches the step that needs them, so a run that never ranks by
vectors or never runs a probe never pays for them (seconds at start-up). Its claims and pairs run in worker
threads, and a package imported for the first time by two threads at once can be handed half-initialized to one
of them (Python breaks the import deadlock that way: "partially initialized module"). The stacks share packages
(numpy, torch, transformers' lazily loaded submodules, huggingface_hub), so every first import of one of them
holds this lock. Re-entrant, so that code holding it may call code that takes it. What a run's options alone
decide (the network clients, the LLM client, the full-text parsers) is imported before the workers start
(claimtrack.agent.pool.import_for_workers).
"""

from __future__ import annotations

import threading

LOCK = threading.RLock()
