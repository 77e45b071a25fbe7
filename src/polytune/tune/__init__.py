"""Hyperparameter search (`polytune tune`): the search space of a run config (space.py, torch-free), its
objectives (metrics.py), the Optuna study (study.py) and what it writes (report.py)."""
