"""Scenario schema, loading and validation."""
