"""cartridge-actor entry package."""
