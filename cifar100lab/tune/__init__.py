"""Hyperparameter search with Optuna whose trials are runs (``cifar100lab tune``).

:mod:`.study` reads and checks a study file; :mod:`cifar100lab.optuna_parts` builds the sampler, pruner and storage;
:mod:`cifar100lab.trial` is the trainer's side of a trial (per-epoch reports, pruning): both sit outside this
package, so the trainer never imports the search that executes it. :mod:`.workers` pulls trials from the storage
and executes each as a run; :mod:`.finish` re-runs the best configuration on the test set; :mod:`.command` is the
command line.
"""
