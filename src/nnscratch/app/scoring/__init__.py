"""``nnscratch predict --scheduler`` / ``--local-workers``: a table scored on a Dask cluster.

    cluster       the cluster: connected to or started, and closed quietly
    distributed   partitions scored by workers, answers taken in input order through the
                  scorer that streaming uses

It imports the layers below the application and ``app.runs``; no other feature.
"""
