"""Corpus stage: sources (Bible packages, files), language ID (backends, fastText training), filter, balance.

Submodules are imported on use (`polytune.corpus.filters`, ...), so importing the package loads no model.
"""
