"""cartridge-trainer entry package."""
