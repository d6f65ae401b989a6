"""The `watchkeeper` command: replay, demo, audit, logs, runbooks."""
from __future__ import annotations

import sys


def main() -> None:
    argv = sys.argv[1:]
    if argv[:2] == ["logs", "cluster"]:
        # the fast path: timed end to end by the log-parsing benchmark, so no typer/rich import
        from .domain.logs.__main__ import main as logs_main
        sys.exit(logs_main(argv[2:]))
    from .commands import app
    app()


if __name__ == "__main__":
    main()
