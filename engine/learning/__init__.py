"""Learning a class from a few painted examples: augmented views, cached features, episodes,
losses, the optimiser, the training steps, input checks, the leave-one-out check, the
estimate shown to the user (range, coverage), IoU metrics, live (warm-started) learning.
Entry point: :func:`engine.learning.train.learn`.

(Not named ``learn``: ``engine.learn`` is the generator function of the lazy API.)
"""
