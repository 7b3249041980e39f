"""Layer 3, estimators and model files, on the math core and the data layer.

The estimators (scikit-learn's surface, one class a role):
base               MLPBase: what the regressor and the classifier share: networks, fit, predict
members            the ensemble's members (network, optimizer, streams, history) and their training
model_schema       what an estimator's model file holds, and the estimators' save and load
regressor          MLPRegressor, scikit-learn compatible
classifier         MLPClassifier: softmax (or sigmoid) output, classes of any type
persistence        the model-file format: named arrays + JSON metadata, no pickle

The fitted models (what a saved model does), and the parts they compose:
fitted             the protocols: FittedModel, and the Servable and Exportable parts
wraps_estimator    WrapsEstimator: what a fitted model around an estimator shares (and its file)
table_model        a table's fitted feature stage and estimator: read, predict, evaluate a file
popularity_model   PopularityModel: raw rows in, popularity points out
table_classifier   TabularClassifier: raw rows in, class labels and probabilities out
digit_model        DigitModel: images in, digits out
ensemble           an ensemble of fitted models of one kind: their outputs' weighted mean, one file
serving            what `nnscratch serve` does with a model's requests (its serving part)
requests           what a served model reads from a request, checked (4xx naming it)
request_schemas    the JSON Schema of what a served model reads and answers (its OpenAPI bodies)
onnx_export        fitted models as ONNX graphs, preprocessing included (their export part)
onnx_graph         a small builder of ONNX graphs on the onnx package's helpers
streaming          a table model's predictions for a file, a chunk at a time
values             what fitted models hand the application: Request, Predictions

What trains them and how they are scored:
recipes            training recipes: the seed's, the default, the presets
metrics            metrics in the target's units, baselines, result tables
"""
