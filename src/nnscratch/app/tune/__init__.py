"""``nnscratch tune``: the hyperparameter search over a task's recipes.

    search   trials × folds as joblib tasks (local processes or Dask), ranked

It imports the layers below the application and ``app.runs``; no other feature.
"""
