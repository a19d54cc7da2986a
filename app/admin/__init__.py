"""Administration of accounts and teams (administrators only; no case content here)."""
