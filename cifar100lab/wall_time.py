"""A campaign's wall time from its runs' durations, on some GPUs with some runs sharing each: the bench predicts
with it and the report bounds a prediction with it (no torch, and outside bench, which the report may not import)."""
from __future__ import annotations

from collections import Counter, deque


def predicted_wall(run_seconds: list[float], gpus: int, runs_per_gpu: int = 1, slowdown: float = 1.0) -> float:
    """Wall time of runs of these durations (each alone on a GPU), handed out in this order (the campaign's queue,
    which does not sort them) to the first free of ``gpus × runs_per_gpu`` jobs, job j on GPU j mod gpus
    (``kernels.job_envs``). ``runs_per_gpu`` runs on one GPU are each ``slowdown`` times slower than alone; fewer
    (a campaign's tail, or fewer runs than jobs) run as fast as one alone with one, and in between linearly
    (with ``slowdown`` = ``runs_per_gpu``, sharing gains nothing: n runs, each n× slower)."""
    def rate(n: int) -> float:
        return 1.0 / (1.0 + (slowdown - 1.0) * (n - 1) / max(1, runs_per_gpu - 1))

    queue, left, now = deque(run_seconds), {}, 0.0  # left: job -> seconds alone its run still needs
    jobs = gpus * runs_per_gpu
    while queue or left:
        for job in range(jobs):
            if job not in left and queue:
                left[job] = queue.popleft()
        sharing = Counter(job % gpus for job in left)
        rates = {job: rate(sharing[job % gpus]) for job in left}
        first = min(left, key=lambda job: left[job] / rates[job])
        step = left[first] / rates[first]
        now += step
        for job in list(left):
            left[job] -= step * rates[job]
            if job == first or left[job] <= 1e-9 * step:  # ended together with it (rounding)
                del left[job]
    return now


def campaign_prediction(networks: list[dict], runs_per_gpu: int = 1, slowdown: float = 1.0,
                        order: list[str] | None = None) -> dict:
    """The campaign's predicted wall time on 1 and on 8 GPUs with this packing (start-up and checkpoints left
    out, as in the epoch times). ``order``: the run ids in the campaign's order (its queue's); the runs it does
    not name (a record without it, or distilling runs waiting for their teachers) follow in the networks' order."""
    place = {run: i for i, run in enumerate(order or [])}
    runs = [(run, net["epoch_seconds"] * epochs) for net in networks
            for run, epochs in zip(net["runs"], net["epochs_per_run"])]
    seconds = [s for _, s in sorted(runs, key=lambda r: place.get(r[0], len(place)))]  # stable: the rest in turn
    return {"runs_per_gpu": runs_per_gpu, "shared_run_slowdown": slowdown,
            "gpus_1_seconds": predicted_wall(seconds, 1, runs_per_gpu, slowdown),
            "gpus_8_seconds": predicted_wall(seconds, 8, runs_per_gpu, slowdown)}


def no_gain_prediction(networks: list[dict], runs_per_gpu: int, order: list[str] | None = None) -> dict:
    """The same packing if sharing gained nothing (``runs_per_gpu`` runs on a GPU, each that many times slower):
    the bound for networks that keep a GPU busy alone, where the slowdown measured on a small one does not hold."""
    return campaign_prediction(networks, runs_per_gpu, float(runs_per_gpu), order)
