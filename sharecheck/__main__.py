from sharecheck.cli import main

raise SystemExit(main())
