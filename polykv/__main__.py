"""``python -m polykv``: the polykv command line."""

from .cli import main

main()
