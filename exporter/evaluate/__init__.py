"""Evaluate: fit references and turn windows into frozen snapshots."""
