"""Hyper-parameter search: the space (``space.py``), the Optuna study run through Trainer
(``study.py``) and its report of tables and plots (``report.py``)."""
