"""Speed measurements (not accuracy results), written as records that the book's Performance page renders.

By job:

* :mod:`.timing` what every measurement shares: the trainer's own build-and-step on synthetic batches
  (:class:`~.timing.OursPath`), interleaved timed rounds, the device's measured matmul peak, the record's header;
* :mod:`.throughput` ``python -m cifar100lab bench``: the original report's input pipeline against ours;
* :mod:`.campaign_time` ``bench --campaign``: every network's epoch time and the campaign's predicted duration
  (:mod:`cifar100lab.wall_time`: from the runs' times on 1 and 8 GPUs, which the report reads too);
* :mod:`.packing` ``bench --pack``: aggregate throughput of runs sharing one device;
* :mod:`.command` the ``bench`` command line.

Whole training runs that record accuracy are ``python -m cifar100lab timed-runs`` (:mod:`cifar100lab.timed_runs`).
"""
