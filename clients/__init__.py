"""Clients of the LeNet services: CLI and plotting helpers."""
