"""Hyperparameter search with Optuna whose trials are runs (``cifar100lab tune``).

:mod:`.study` reads and checks a study file; :mod:`.optuna_parts` builds the sampler, pruner and storage;
:mod:`.trial` is the trainer's side of a trial (per-epoch reports, pruning); :mod:`.workers` pulls trials from
the storage and executes each as a run; :mod:`.finish` re-runs the best configuration on the test set;
:mod:`.command` is the command line. Nothing is imported here, so the trainer's import of :mod:`.trial` stays light.
"""
