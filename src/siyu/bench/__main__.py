"""``python -m siyu.bench child NAME SIZE ANSWER``: the child process of ``siyu bench run`` (it runs
on a fresh database the parent prepared). Use ``siyu bench`` instead."""

from __future__ import annotations

import sys
from pathlib import Path

from siyu.bench.runner import child


def main(argv: list[str]) -> int:
    if len(argv) != 4 or argv[0] != "child":
        print(
            "usage: python -m siyu.bench child NAME SIZE ANSWER  (use `siyu bench run NAME` instead)", file=sys.stderr
        )
        return 2
    child(argv[1], int(argv[2]), Path(argv[3]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
