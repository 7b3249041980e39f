"""Layer 5, the application: the command line and one folder per feature.

    cli/          the ``nnscratch`` command line: parsing and dispatch only
    serve/        ``nnscratch serve``: a model behind a JSON API, its pages, metrics
    playground/   the live training page, and ``nnscratch train --watch``
    lab/          ``nnscratch experiment``: the analysis lab's experiments
    learn/        the course: exercises checked against the package
    tune/         ``nnscratch tune``: the hyperparameter search
    scoring/      ``nnscratch predict --scheduler``: scoring a table on a Dask cluster
    runs          run directories: staged outputs, metrics.json, history.csv (what
                  several features and the command line write)

A feature imports the layers below (``tasks``, ``models``, ``data``, ``core``, the
foundation) and ``runs``, never another feature; only the command line imports the
features, and it composes them (``tests/test_layout.py`` checks both).
"""
