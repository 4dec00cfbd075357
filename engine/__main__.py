"""``python -m engine``: the ``engine`` command, for when the console script is not on PATH."""

from engine.cli.main import main

main()
