"""claimtrack: keep dated research claims honest by re-checking them against newer work."""

__version__ = "0.1.0"
