"""Labelled datasets, provenance and atomic writing."""
