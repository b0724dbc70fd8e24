"""What several pages share, one concern a module."""
