"""The course: a learner builds the network stage by stage, checked against the package.

    exercises    the one list of stages and exercises (the notebooks' and the workspace's)
    stages/      one module a stage: its stub's text, its checks and their named mistakes
    exercise     an exercise, a stage, and what checking an answer finds (an outcome)
    checking     calling the learner's code, comparing answers, telling mistakes apart
    workspace    the learner's folder: stubs written, modules loaded afresh
    progress     each stage's last check, kept in the workspace
    history      the workspace's git history: a commit a stage, the first time it passes
    course       checking a workspace in order, its report, its status
    watching     checking again on every save (``nnscratch learn watch``)
    milestones   the learner's network on real data beside the engine (``learn train``)
    network      the learner's stages as a network and optimizer the training loop takes
    live         the learner's network as the live page's source (``playground --engine``)

It imports the layers below the application and ``app.runs``; no other feature.
"""
