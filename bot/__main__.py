"""``python -m bot``, as the deployment contract names it: the same command line as ``sharecheck`` (an entry shim
to the composition root; nothing in ``bot/`` imports it)."""

from sharecheck.cli import main

raise SystemExit(main())
