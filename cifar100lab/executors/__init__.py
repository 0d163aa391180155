"""Where a campaign's runs execute: :mod:`.local` (papermill jobs on this machine) and :mod:`.slurm` (one Slurm
job per run, through submitit). Each sits on top of :mod:`cifar100lab.campaign` (what to run) and
:mod:`cifar100lab.runs` (one run's steps); neither of those imports an executor. Both ask :mod:`.slurm_jobs`
what Slurm says of a campaign's jobs."""
