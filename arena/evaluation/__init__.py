"""Judging generators: sample metrics, classifier features, the Parzen window, training
diagnostics, and the metrics of ``arena eval``."""
