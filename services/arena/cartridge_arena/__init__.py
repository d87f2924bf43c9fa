"""cartridge-arena entry package."""
