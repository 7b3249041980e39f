"""``nnscratch serve``: a trained model behind a JSON API, its page, and its metrics.

    server              the model loaded once (``ServedModel``), the app for ``--workers``
    api                 the routes, assembled: the page, ``/predict``, ``/model``, ``/v2``
    openapi             what each route reads and answers (``/openapi.json``), and ``/docs``
    handler             a body read within its limits, made a job, answered in a batch
    batching            adaptive micro-batching: concurrent requests in one network call
    inference_protocol  the Open Inference Protocol's requests and answers, binary data too
    metrics             ``GET /metrics``: counters in Prometheus's text format
    pages/              the HTML pages, one per kind of model (package data)
    vendor/             Swagger UI's files for ``/docs``, with its licence (package data)

It imports the layers below the application and ``app.runs``; no other feature.
"""
