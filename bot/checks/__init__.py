"""Share-checks: the engine's moves, persisted after every step, with their event trail.

Every surface (console, Slack, Teams, through bot/conversation) drives checks through ``CheckService``; none of
them touches the engine or the database directly. One shape, as every domain package:

- ``models``: who acts, the outcomes of a move, the kinds of event on a check's trail, decisions, errors;
- ``service``: what the application does: start, resume, answer, back, cancel, urgent, reconsider, list;
- ``flows``: what other domains hang off a check: completion hooks, actions of a choice (ask my lead), pending
  items;
- ``store``: the check's SQL, the state an instance holds for active checks, and the hash-chain plumbing of the
  fast paths;
- ``messaging``: the check's own wording and the messages it returns.
"""
