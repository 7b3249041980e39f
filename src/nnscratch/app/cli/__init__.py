"""The ``nnscratch`` command line: parsing and dispatch, nothing a feature does itself.

    main        the entry point: registers the commands, maps errors to exit codes
    commands/   one module per command, each ``add_parser(sub)`` and ``run(args)``
    arguments   options several commands share: the data and its task, a recipe's flags
    console     ``say``, the help formatter and its examples

It may import every feature folder of the application, and everything below it.
"""

import os

# pyarrow (which pandas imports) reads this once, at its import: its own allocators
# (mimalloc, jemalloc) keep what reading Parquet freed (56 MB after one part of 500,000
# rows, before any command's peak); through malloc it is handed back. A user's setting wins.
os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")
