"""``python -m polykv``: the polykv command line."""

from .launcher import main

main()
