"""The Hub: model cards generated from a run's metrics (``model_card.py``) and pushing a saved folder
(``push.py``)."""
