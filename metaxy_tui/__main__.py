"""`python -m metaxy_tui` is the `metaxy-tui` command."""

from .cli import main

main()
