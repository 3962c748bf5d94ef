"""Helpers for tests and CI (tiny offline models); not used at runtime."""
