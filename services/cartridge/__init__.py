"""Cartridge: the shared library of the self-play services."""
