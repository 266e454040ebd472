"""Entry point of one measuring process (``python -m sinabs.benchmarking._child JSON``).

Reads the request (network, framework and the keyword arguments of
:func:`sinabs.benchmarking.measure.measure`) from its argument and prints the result as
one JSON line; a peer framework whose import fails (not installed, or broken against
this torch) gives ``{"unavailable": reason}``.
"""

from __future__ import annotations

import importlib
import json
import sys
import warnings


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise SystemExit("usage: python -m sinabs.benchmarking._child JSON")
    request = json.loads(argv[0])
    network, framework = request.pop("network"), request.pop("framework")
    # peers warn about deprecated torch calls at every step; the report has their versions
    warnings.simplefilter("ignore")
    from .measure import measure
    from .peers import PEERS

    if framework in PEERS:
        try:
            importlib.import_module(PEERS[framework])
        except Exception as error:  # any failure of a peer's import makes it unavailable
            print(json.dumps({"unavailable": f"{type(error).__name__}: {error}"}))
            return
    print(json.dumps(measure(network, framework, **request)))


if __name__ == "__main__":
    main(sys.argv[1:])
