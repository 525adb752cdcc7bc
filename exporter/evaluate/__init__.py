"""Evaluate: pure functions that fit a reference and turn a window view into a snapshot."""
