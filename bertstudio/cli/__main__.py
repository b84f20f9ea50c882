"""`python -m bertstudio.cli` runs the command line, as `python -m bertstudio` does."""

from bertstudio.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
