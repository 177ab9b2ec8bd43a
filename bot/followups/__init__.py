"""Follow-ups: the loops ShareCheck keeps open after a check, until someone answers.

'Received and understood' after a share, 'tell the requester' after not sharing on a request, a lead's advice
during a check, the professional-disagreement route, and on the urgent path the written confirmation of a phone
referral. One shape, as every domain package:

- ``models``: kinds, states, verbs, outbox purposes, errors;
- ``flows``: the state machine, one table of (kind, state, verb) -> (new state, effects), and the effects;
- ``service``: what the application does: create, answer, start a disagreement, list;
- ``scheduled``: what the scheduler runs: due questions, nudges, escalations, undeliverable questions;
- ``messaging``: the neutral messages and their wording (``content``: bot/content/followups.yaml).
"""
