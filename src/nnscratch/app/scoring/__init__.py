"""``nnscratch predict --scheduler`` / ``--local-workers``: a table scored on a Dask cluster.

    distributed   partitions scored by workers, answers taken in input order

It imports the layers below the application and ``app.runs``; no other feature.
"""
