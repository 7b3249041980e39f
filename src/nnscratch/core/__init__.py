"""Layer 1, the math core: stages 2–6 in NumPy (and threadpoolctl), nothing above them.

    init          stage 2: He / Glorot / small initialisation, one flat parameter array
    activations   stage 3: activations and their derivatives, in-place forms
    losses        stage 5: the loss table (MSE, cross-entropy, binary cross-entropy), L2
    blas          how many threads BLAS may use for the network's products
    network       stages 4–5: the one transpose, forward, backward, thread-safe prediction
    batchensemble TabM's k members sharing each weight matrix, backprop by hand
    optimizers    stage 6: GD, momentum, Adam, AdamW, each one ``step(params, grads)``
    schedules     stage 6: learning-rate schedules
    training      stage 6: the training loop, early stopping, history
    observe       what the network does while it learns: a read-only view of each layer
    telemetry     per-layer telemetry, a step observer
    diagnosis     the telemetry judged over a run's history: warnings that name a cause
    gradcheck     finite-difference gradient checks

No pandas, scikit-learn or matplotlib here (``tests/test_layout.py`` checks it).
"""
