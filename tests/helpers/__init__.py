"""Shared test helpers: small clips, the metric tester, loader files."""
