"""``python -m sinabs``: the ``sinabs`` command line (see :mod:`sinabs.cli`)."""

from __future__ import annotations

if __name__ == "__main__":
    from sinabs.cli import main

    raise SystemExit(main())
