"""devtools: the Cartridge developer CLI."""
