"""The course: a learner's code checked, stage by stage, against the package's own.

    exercises   the notebooks' exercises and their checks, each with a specific hint

It imports the layers below the application and ``app.runs``; no other feature.
"""
