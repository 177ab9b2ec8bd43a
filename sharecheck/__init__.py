"""The composition root: the one place that wires the channels (``adapters/``) to the core (``bot/``, ``dialogs/``).

Nothing in ``bot/`` or ``dialogs/`` imports an adapter; everything that needs to know which platforms exist (the
web routes, the deliverers of scheduled messages, the command line's platform tools) lives here.
"""
