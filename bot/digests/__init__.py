"""Digests for safeguarding leads: what happened in their scope this period, what needs them now.

One shape, as every domain package:

- ``models``: schedules and their periods, the figures counted, the reasons something needs the lead;
- ``service``: who sees what (a lead's scope), schedules, and building a digest from the records;
- ``scheduled``: what the scheduler runs: every lead's digest queued once per period;
- ``messaging``: the Digest message and its wording (bot/content/digest.yaml), and the outbox rows that carry it.
"""
