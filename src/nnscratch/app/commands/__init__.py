"""The ``nnscratch`` commands: one module each, with ``add_parser(sub)`` and ``run(args)``.

:data:`COMMANDS` lists them in the order ``--help`` shows them.
"""

from nnscratch.app.commands import (
    download,
    evaluate,
    experiment,
    export,
    playground,
    predict,
    serve,
    train,
    tune,
)

COMMANDS = (train, evaluate, predict, export, download, experiment, tune, serve, playground)
