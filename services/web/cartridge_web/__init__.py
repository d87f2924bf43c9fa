"""cartridge-web entry package."""
