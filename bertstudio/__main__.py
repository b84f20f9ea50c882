"""`python -m bertstudio` runs the command line."""

from bertstudio.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
