"""The console's people: the recipient a console user names."""

from __future__ import annotations

# the share script's answers to an outside recipient, as typed in the console
RECIPIENT = "Northshire Community Health, health visitor"
