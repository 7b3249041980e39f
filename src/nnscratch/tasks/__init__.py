"""Layer 4, tasks: the only code that knows there are several kinds of work.

base            the ``Task`` interface, the ``FittedModel`` protocol, ``Servable``
                and ``Exportable``
table           what the two table tasks share: splits, folds, the lab's arrays
regression      ``TableRegression``: a number in a table (popularity by default)
classification  ``TableClassification``: class labels in a table
digits          ``Digits``: images of digits
baselines       the baselines beside the network
importance      permutation importance of a table model's inputs
plots           the figures, rendered off-screen and written atomically
registry        ``TASKS``: which task handles some data, and a model file
"""
