"""A stand-in for ``torch.cuda.set_sync_debug_mode`` that works on any device: it records every operation that,
on a GPU, makes the host wait for the device (a read, an output shaped by the data) or copy from the host to it."""
from __future__ import annotations

import torch
from torch.utils._python_dispatch import TorchDispatchMode

HOST_READS = {"aten._local_scalar_dense"}  # .item(), bool(t), float(t): the host waits for the value
HOST_TENSORS = {"aten.lift_fresh", "aten.lift_fresh_copy"}  # torch.tensor(host values, device=…): a copy
# Ops whose output's shape depends on the data: on a GPU the host waits for the device to learn the size.
DATA_SHAPED = {"aten.nonzero", "aten.masked_select", "aten._unique2", "aten.unique_dim", "aten.unique_consecutive"}
MASK_INDEXED = {"aten.index", "aten.index_put_", "aten.index_put", "aten._index_put_impl_"}  # with a bool mask


def _bool_mask(indices) -> bool:
    return any(isinstance(i, torch.Tensor) and i.dtype == torch.bool for i in indices or ())


class HostTraffic(TorchDispatchMode):
    """``events``: (kind, op) for each host read, tensor made from host values, and copy between devices."""

    def __init__(self):
        super().__init__()
        self.events: list[tuple[str, str]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = func.overloadpacket._qualified_op_name.replace("::", ".")
        if name in HOST_READS:
            self.events.append(("read", name))
        elif name in HOST_TENSORS:
            self.events.append(("host tensor", name))
        elif name in DATA_SHAPED or (name in MASK_INDEXED and _bool_mask(args[1])):
            self.events.append(("data-dependent shape", name))
        elif name == "aten._to_copy" and kwargs.get("device") is not None \
                and torch.device(kwargs["device"]) != args[0].device:
            self.events.append((f"copy {args[0].device.type}->{torch.device(kwargs['device']).type}", name))
        elif name == "aten.copy_" and args[0].device != args[1].device:
            self.events.append((f"copy {args[1].device.type}->{args[0].device.type}", name))
        return func(*args, **kwargs)
