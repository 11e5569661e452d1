"""The ``forecasting`` command line.

Exit codes: 0 success, 1 the job failed, 2 bad input or configuration (the
reason goes to stderr, without a traceback).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from forecasting import __version__
from forecasting.errors import ConfigError, DataError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="forecasting", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"forecasting {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    _add_data_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or EXIT_OK)
    except (DataError, ConfigError, FileNotFoundError) as error:
        print(f"forecasting: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("forecasting: interrupted", file=sys.stderr)
        return EXIT_FAILED


# --- data ---------------------------------------------------------------------
def _add_data_commands(commands: argparse._SubParsersAction) -> None:
    data = commands.add_parser("data", help="inspect and check input data")
    sub = data.add_subparsers(dest="data_command", required=True)
    check = sub.add_parser("check", help="load a file and print its data quality report")
    check.add_argument("path")
    check.add_argument("--format", default="auto", help="auto, long, wide, bts, or a source spec .toml")
    check.set_defaults(handler=_data_check)


def _data_check(args: argparse.Namespace) -> int:
    from forecasting.data.check import check_path

    return check_path(args.path, args.format)


if __name__ == "__main__":
    sys.exit(main())
