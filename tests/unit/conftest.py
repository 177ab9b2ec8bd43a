"""The unit tests: the engine, packs, records, grammar, wording and rendering, with no server and no database.

They take no fixture beyond tests/conftest.py's clock; helpers come from tests/support/."""
