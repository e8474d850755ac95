"""``python -m gleitzeit``: the same command line as the ``gleitzeit`` script (for a venv whose
``bin/`` is not on PATH, or to pick the interpreter explicitly)."""

from gleitzeit.cli import main

main()
