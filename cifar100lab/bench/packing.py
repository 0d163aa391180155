"""``python -m cifar100lab bench --pack 1 2 4 8``: aggregate training images/s of k runs sharing one device, for
each k. Small networks leave a large GPU idle, so several side by side may train more images per second in all;
the record's ``shared_run_slowdown`` is what ``bench --campaign --slowdown`` takes. With ``cuda_graph`` each run
replays its step as one CUDA graph (``bench --pack … --cuda-graph``), the way a graphed campaign's runs share it."""
from __future__ import annotations

import torch

from .. import records
from ..config import resolve
from .timing import OursPath, default_device, synthetic_images


def _pack_worker(model, batch_size, steps, warmup, device, cuda_graph, threads, barrier, results) -> None:
    """One of k runs sharing a device (forked from the fork server, which never starts CUDA): a warm-up round,
    then a timed round that starts with the others'."""
    torch.set_num_threads(threads)
    plan = resolve(dict(model=model, pretrained="off", batch_size=batch_size, progress=False, cuda_graph=cuda_graph))
    x, y = synthetic_images((steps + warmup) * batch_size)
    path = OursPath(plan, (x, y), (x, y), warmup, torch.device(device))
    path.train_round()  # compilation, cuDNN autotuning, lazy optimizer state, a CUDA graph's capture
    barrier.wait()
    secs, seen, _ = path.train_round()
    results.put(seen / secs)


def _shared_rates(context, k: int, args: tuple, threads: int) -> list[float]:
    """Training images/s of each of ``k`` runs timed together."""
    barrier, results = context.Barrier(k), context.Queue()
    workers = [context.Process(target=_pack_worker, args=(*args, threads, barrier, results)) for _ in range(k)]
    for w in workers:
        w.start()
    rates = [results.get(timeout=1800) for _ in workers]
    for w in workers:
        w.join()
    return rates


def run_packing(ks=(1, 2, 4, 8), model="resnet_20", batch_size=128, steps=50, warmup=5, device=None,
                cuda_graph=False) -> dict:
    import multiprocessing

    from ..launch import thread_share
    device = default_device(device)
    # The runs fork from one fork server that imported this module (torch, timm and the models) once, rather
    # than each importing them again (15 processes for k = 1, 2, 4, 8); the server is a fresh process that
    # never starts CUDA, so its children may, whatever this process has done.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    rows = []
    for k in ks:
        threads = thread_share(k) if device.type == "cpu" else 1
        rates = _shared_rates(context, k, (model, batch_size, steps, warmup, str(device), cuda_graph), threads)
        rows.append({"runs": k, "per_run_images_per_second": sorted(rates),
                     "aggregate_images_per_second": sum(rates)})
    for row in rows:
        row["aggregate_speedup"] = row["aggregate_images_per_second"] / rows[0]["aggregate_images_per_second"]
        row["shared_run_slowdown"] = row["runs"] / row["aggregate_speedup"]
    best = max(rows, key=lambda r: r["aggregate_images_per_second"])
    return {"kind": "packing", "device": records.device_name(device), "device_type": device.type, "model": model,
            "batch_size": batch_size, "steps": steps, "warmup": warmup, "cuda_graph": cuda_graph, "peaks_tflops": {}, "rows": rows,
            "best_runs_per_gpu": best["runs"], "versions": records.versions(), "git_commit": records.git_commit(),
            "measured": records.now()}
