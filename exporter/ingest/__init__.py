"""Ingest: decode stream entries and keep bounded windows of them."""
