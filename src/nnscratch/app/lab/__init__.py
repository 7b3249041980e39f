"""``nnscratch experiment NAME``: the analysis lab, one experiment per design claim.

    experiments    the list of experiments (``EXPERIMENTS``) and running one
    training       the lab's data and one training run, which every experiment uses
    seed_network   the experiments on the seed's network: init, activation, lr, l2,
                   batch, optimizer
    figures        their figures
    augmentation   the augmentation experiment on digits, and its figure

It imports the layers below the application and ``app.runs``; no other feature.
"""
