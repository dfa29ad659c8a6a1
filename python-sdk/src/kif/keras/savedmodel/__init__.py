"""TensorFlow SavedModel directories (tf.keras ``model.save(dir)``) read without TensorFlow.

``kif convert`` passes SavedModel directories and ``saved_model.pb`` paths here (``CONVERTS`` tells the
CLI's format check that this reader exists); see reader.py for the mapping and docs/keras.md for coverage.
"""

CONVERTS = True
