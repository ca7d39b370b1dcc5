"""The replication subsystem's one error type."""

from __future__ import annotations

from claimtrack.errors import ClaimtrackError


class ReplicationFailed(ClaimtrackError):
    """The model could not be loaded or converted, the device is missing, or lm-eval failed: not the user's input."""

    exit_code = 1
