"""`python -m parity`: the `parity` command."""

from parity.cli import main

raise SystemExit(main())
