"""``nnscratch tune``: an Optuna search of a task's recipes, pruned, within a time
budget, and an ensemble of the best.

    study      the Optuna study in the run folder (SQLite): settings, sampler, pruner, resuming
    trials     one trial where it runs: its folds, pruned or stopped on the way, its outcome
    search     the driver: trials on workers (this process, local processes, Dask), recorded
    selection  greedy ensemble selection over the trials' out-of-fold outputs
    finish     the default, the best single and the ensemble refit and tested once
    report     a line per trial, and search.png

It imports the layers below the application and ``app.runs``; no other feature.
"""
