"""What an ``executor:`` block and the command line's executor flags may say, as plain data: importable without
torch, so the command line builds its parser cheaply, and below ``config`` (which checks the values with
:class:`cifar100lab.config.ExecutorConfig`) and the executors themselves."""

EXECUTOR_KINDS = ("local", "slurm")
EXECUTOR_FLAGS = ("partition", "account", "qos", "constraint", "time_min")  # also settable on the command line
