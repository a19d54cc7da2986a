"""Backup and restore of a whole installation: one encrypted, integrity-checked archive.

`archive.py` is the container format, `backup.py` writes it from a consistent snapshot,
`restore.py` checks it and restores it into an empty installation, `cli.py` holds the commands.
See docs/backup.md.
"""
