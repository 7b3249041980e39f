"""Helper process for the SIGKILL test: saves a model over the same path, forever."""

import sys

import numpy as np

from nnscratch.models.regressor import MLPRegressor

path = sys.argv[1]
rng = np.random.default_rng(0)
X = rng.random((64, 8))
model = MLPRegressor(hidden_layer_sizes=(1024, 1024), epochs=1, random_state=0).fit(X, X[:, 0])
model.save(path)
print("saved", flush=True)
while True:
    model.network_.params.flat += 1.0  # every save writes different bytes
    model.save(path)
