"""Hyperparameter search: the space from TrainConfig's metadata (`space.py`), trials run as
ordinary runs with Optuna (`study.py`), the search folder (`record.py`) and its events (`events.py`).

    from bertstudio.search.study import run_search
    result = run_search(TrainConfig(data="reviews.csv", model="bundled"), trials=8)
    result.best.run_dir
"""
