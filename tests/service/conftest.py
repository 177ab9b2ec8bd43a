"""The service tests: a real Runtime and database (tests/conftest.py's `runtime`, on SQLite and PostgreSQL), no
platform HTTP; scheduled sends go to the recording deliverer in tests/support/deliverers.py."""
