"""The ``nnscratch`` commands: one module each, with ``add_parser(sub)`` and ``run(args)``.

    train       fit a recipe on some data, report it beside baselines
    evaluate    a saved model's scores on a file
    predict     a saved model's predictions for a file (streamed, or on Dask)
    export      a saved model as one ONNX file
    download    fetch the real Kaggle tracks file
    experiment  the analysis lab
    tune        the hyperparameter search
    serve       a model behind a JSON API and a page
    playground  a live training page
    learn       the course: a learner's own network, checked stage by stage

:data:`COMMANDS` lists them in the order ``--help`` shows them.
"""

from nnscratch.app.cli.commands import (
    download,
    evaluate,
    experiment,
    export,
    learn,
    playground,
    predict,
    serve,
    train,
    tune,
)

COMMANDS = (
    train,
    evaluate,
    predict,
    export,
    download,
    experiment,
    tune,
    serve,
    playground,
    learn,
)
