"""Verifiers: claim checking against evidence (see the verification issue)."""
