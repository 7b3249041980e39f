"""The ``nnscratch`` commands: one module each, with ``add_parser(sub)`` and ``run(args)``.

:data:`COMMANDS` lists them in the order ``--help`` shows them.
"""

from nnscratch.app.commands import download, evaluate, experiment, predict, serve, train, tune

COMMANDS = (train, evaluate, predict, download, experiment, tune, serve)
