"""Turning decoded files into warehouse rows (one module per kind of thing stored)."""
