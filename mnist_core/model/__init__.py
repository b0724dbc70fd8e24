"""Networks and their settings: the table of training settings, building a network from a spec, its precision,
checking model files, predicting and scoring."""
