"""Replication: lm-eval probes that test claims on open models, run as cached jobs that write evidence.

Nothing heavy is imported here; lm_eval, torch and transformers load only when a probe runs.
"""

from claimtrack.replication.api import ReplicationOutcome, collect, replicate
from claimtrack.replication.specs import Spec, spec_for, validate_specs

__all__ = ["ReplicationOutcome", "Spec", "collect", "replicate", "spec_for", "validate_specs"]
