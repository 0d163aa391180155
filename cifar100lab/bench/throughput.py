"""``python -m cifar100lab bench``: the original report's input pipeline against this project's path, same
process, same model, same synthetic data.

* original: per-image PIL transforms (RandomCrop(32, padding=4), RandomHorizontalFlip, ToTensor, Normalize)
  through a DataLoader with worker processes, fp32, contiguous (NCHW) memory;
* ours: the trainer's defaults — uint8 tensors resident on the device, batched crop/flip on the device,
  channels_last, bf16 autocast, evaluation in the trainer's batches (1000 on a GPU, 128 on a CPU);
* ours+compile (``--compile``): the same with ``torch.compile``; its one-off compile time is recorded apart;
* ours+compile:MODE (``--compile-mode``): also with ``torch.compile`` in that mode (reduce-overhead replays the
  network's forward and backward as CUDA graphs);
* ours+cuda-graph (``--cuda-graph``): the whole step, optimizer included, replayed as one CUDA graph
  (``cuda_graph: true``); with ``--compile`` also ours+compile+cuda-graph, the compiled kernels in that graph.

The paths are timed in interleaved rounds (``--repeats``), each reporting its median. The record has images/s,
the speed-up over the original pipeline, and achieved FLOP/s beside the device's measured matmul peak.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import data as data_mod
from ..accelerator import torch_default_kernel_policy
from ..config import eval_batch, resolve
from ..models import TRAINING_FLOPS_PER_FORWARD, count_flops, create_model
from .timing import OursPath, default_device, header, interleaved, measured_peaks, synthetic_images, timed


class PILDataset(torch.utils.data.Dataset):
    """The original report's per-image path: HWC uint8 -> PIL image -> torchvision transforms."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, train: bool):
        from torchvision import transforms as T
        self.images = x.permute(0, 2, 3, 1).numpy()
        self.labels = y.numpy()
        cifar = data_mod.DATASETS["cifar100"]
        norm = T.Normalize(cifar.mean, cifar.std)
        aug = [T.RandomCrop(32, padding=4), T.RandomHorizontalFlip()] if train else []
        self.transform = T.Compose([*aug, T.ToTensor(), norm])

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        from PIL import Image
        return self.transform(Image.fromarray(self.images[i])), int(self.labels[i])


class OriginalPath:
    """The original report's way of training; ``train_round``/``eval_round`` return ``timed``'s triple."""

    def __init__(self, model_name, train, batch_size, warmup, workers, device):
        torch.manual_seed(0)
        self.model = create_model(model_name, num_classes=100).to(device)
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.01, momentum=0.9)
        self.train_set, self.test_set = PILDataset(*train, True), PILDataset(*train, False)
        self.batch_size, self.warmup, self.workers, self.device = batch_size, warmup, workers, device
        self.info = {"precision": "fp32", "channels_last": False, "compile": False,
                     "pipeline": f"PIL transforms + DataLoader({workers} workers)"}

    def train_round(self):
        torch_default_kernel_policy()  # the original script set none; a round of ours before set the trainer's
        model, opt, device = self.model.train(), self.opt, self.device
        loader = torch.utils.data.DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True,
                                             num_workers=self.workers, drop_last=True)

        def step(xb, yb):
            loss = F.cross_entropy(model(xb.to(device)), yb.to(device))
            opt.zero_grad()
            loss.backward()
            opt.step()

        return timed(step, loader, self.warmup, device)

    def eval_round(self):
        torch_default_kernel_policy()
        model = self.model.eval()
        loader = torch.utils.data.DataLoader(self.test_set, batch_size=self.batch_size, num_workers=self.workers)
        with torch.no_grad():
            # one batch warms up when there is another to time (--steps 1 --warmup 0 makes one batch in all)
            return timed(lambda xb, yb: model(xb.to(self.device)), loader, 1 if len(loader) >= 2 else 0, self.device)


def _rows(name: str, result: dict, flops: int, peaks: dict) -> list[dict]:
    """One row per path: its rates, achieved FLOP/s beside the peak of its precision, speed-up over the original."""
    base, rows = result["original"], []
    for label, r in result.items():
        peak = peaks["fp32" if r["precision"] in ("no", "fp32") else r["precision"]]
        achieved = TRAINING_FLOPS_PER_FORWARD * flops * r["train_images_per_second"]
        row = {"model": name, "path": label, **r, "flops_per_image": flops, "achieved_tflops": achieved / 1e12,
               "peak_tflops": peak / 1e12, "fraction_of_peak": achieved / peak}
        if label != "original":
            row["train_speedup"] = r["train_images_per_second"] / base["train_images_per_second"]
            row["eval_speedup"] = r["eval_images_per_second"] / base["eval_images_per_second"]
        rows.append(row)
    return rows


def run_bench(models, batch_size=128, steps=20, warmup=3, workers=2, precision="auto", compile_model=False,
              eval_batch_size=None, device=None, repeats=3, compile_mode=None, cuda_graph=False) -> dict:
    device = default_device(device)
    x, y = synthetic_images(max((steps + warmup) * batch_size, eval_batch(eval_batch_size, device.type) * 2))
    train = x[:(steps + warmup) * batch_size], y[:(steps + warmup) * batch_size]  # a round = one pass over it
    peaks = measured_peaks(device, precision)
    rows = []
    for name in models:
        flops = count_flops(create_model(name, num_classes=100), 32)
        base = dict(model=name, pretrained="off", batch_size=batch_size, eval_batch_size=eval_batch_size,
                    precision=precision)
        paths = {"original": OriginalPath(name, train, batch_size, warmup, workers, device),
                 "ours": OursPath(resolve(base), train, (x, y), warmup, device)}
        if compile_model:
            paths["ours+compile"] = OursPath(resolve({**base, "compile": True}), train, (x, y), warmup, device)
        if compile_mode and compile_mode != "default":
            paths[f"ours+compile:{compile_mode}"] = OursPath(
                resolve({**base, "compile": True, "compile_mode": compile_mode}), train, (x, y), warmup, device)
        if cuda_graph:
            paths["ours+cuda-graph"] = OursPath(resolve({**base, "cuda_graph": True}), train, (x, y), warmup, device)
        if cuda_graph and compile_model:
            paths["ours+compile+cuda-graph"] = OursPath(resolve({**base, "compile": True, "cuda_graph": True}),
                                                        train, (x, y), warmup, device)
        rows += _rows(name, interleaved(paths, repeats), flops, peaks)
    return {"kind": "bench", **header(device, peaks, data="synthetic CIFAR-shaped uint8 images (throughput only)",
                                      batch_size=batch_size, steps=steps, warmup=warmup, workers=workers,
                                      repeats=repeats), "rows": rows}
