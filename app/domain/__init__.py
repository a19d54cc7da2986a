"""Pure domain knowledge: vocabularies, partial dates, allegation rules. No database, no Flask."""
