"""A campaign's wall time from its runs' durations, on some GPUs with some runs sharing each: the bench predicts
with it and the report bounds a prediction with it (no torch, and outside bench, which the report may not import)."""
from __future__ import annotations


def predicted_wall(run_seconds: list[float], gpus: int, runs_per_gpu: int = 1, slowdown: float = 1.0) -> float:
    """Wall time of runs of these durations (each alone on a GPU) on ``gpus`` GPUs with ``runs_per_gpu`` side by
    side on each, every shared run ``slowdown`` times slower than alone: longest run first onto the slot that
    frees first (the campaign's queue hands the next run to the first free job)."""
    slots = [0.0] * (gpus * runs_per_gpu)
    for seconds in sorted(run_seconds, reverse=True):
        slots[slots.index(min(slots))] += seconds * (slowdown if runs_per_gpu > 1 else 1.0)
    return max(slots)


def campaign_prediction(networks: list[dict], runs_per_gpu: int = 1, slowdown: float = 1.0) -> dict:
    """The campaign's predicted wall time on 1 and on 8 GPUs with this packing (start-up and checkpoints left
    out, as in the epoch times)."""
    seconds = [net["epoch_seconds"] * epochs for net in networks for epochs in net["epochs_per_run"]]
    return {"runs_per_gpu": runs_per_gpu, "shared_run_slowdown": slowdown,
            "gpus_1_seconds": predicted_wall(seconds, 1, runs_per_gpu, slowdown),
            "gpus_8_seconds": predicted_wall(seconds, 8, runs_per_gpu, slowdown)}


def no_gain_prediction(networks: list[dict], runs_per_gpu: int) -> dict:
    """The same packing if sharing gained nothing (``runs_per_gpu`` runs on a GPU, each that many times slower):
    the bound for networks that keep a GPU busy alone, where the slowdown measured on a small one does not hold."""
    return campaign_prediction(networks, runs_per_gpu, float(runs_per_gpu))
