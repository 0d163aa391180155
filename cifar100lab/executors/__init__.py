"""Where a campaign's runs execute: :mod:`.local` (papermill jobs on this machine) and :mod:`.slurm` (one Slurm
job per run, through submitit). Each sits on top of :mod:`cifar100lab.campaign` (what to run) and
:mod:`cifar100lab.runs` (one run's steps); neither of those imports an executor.

The names below are plain data, importable without torch, so the command line can list its flags cheaply;
:class:`cifar100lab.config.ExecutorConfig` checks the values."""

EXECUTOR_KINDS = ("local", "slurm")
EXECUTOR_FLAGS = ("partition", "account", "qos", "constraint", "time_min")  # also settable on the command line
