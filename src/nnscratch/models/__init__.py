"""Layer 3, estimators and model files, on the math core and the data layer.

base               what the regressor and the classifier share: networks, fit, predict
members            the ensemble's members (network, optimizer, streams, history) and their training
model_schema       what an estimator's model file holds, and the estimators' save and load
values             what fitted models hand the application: Request, Predictions
fitted             what a fitted model that wraps an estimator shares
regressor          MLPRegressor, scikit-learn compatible
classifier         MLPClassifier: softmax (or sigmoid) output, classes of any type
persistence        the model-file format: named arrays + JSON metadata, no pickle
table_model        a table's fitted feature stage and estimator, in one file
popularity_model   PopularityModel: raw rows in, popularity points out
table_classifier   TabularClassifier: raw rows in, class labels and probabilities out
digit_model        DigitModel: images in, digits out
requests           what a served model reads from a request, checked (4xx naming it)
streaming          a table model's predictions for a file, a chunk at a time
onnx_export        fitted models as ONNX graphs, preprocessing included
onnx_graph         a small builder of ONNX graphs on the onnx package's helpers
recipes            training recipes: the seed's, the default, the presets
metrics            metrics in the target's units, baselines, result tables
"""
