"""The ``nnscratch`` command line: parsing and dispatch, nothing a feature does itself.

    main        the entry point: registers the commands, maps errors to exit codes
    commands/   one module per command, each ``add_parser(sub)`` and ``run(args)``
    arguments   options several commands share: the data and its task, a recipe's flags
    console     ``say``, the help formatter and its examples

It may import every feature folder of the application, and everything below it.
"""
