"""Tracer output: 1024-byte and 256-byte records, the per-token JSON export, op-code tables."""
