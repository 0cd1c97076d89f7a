"""Prediction: the :class:`~engine.infer.predict.Predictor`, CUDA graph replay, labelling a
folder (one process, a shard of it, or a Ray cluster)."""
