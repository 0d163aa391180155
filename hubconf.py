"""torch.hub entry points, one per registered model:

    model = torch.hub.load("<owner>/cifar100lab", "resnet_20", pretrained="runs/quick/quick-resnet_20-s0")
    model = torch.hub.load("/path/to/checkout", "resnet_20", pretrained="run/checkpoint.pt", source="local")

``pretrained`` is a run folder, its ``checkpoint.pt`` or a folder written by ``python -m cifar100lab export``
(whose sha256 is checked); weights that do not fit the entry point's model are refused. The model comes back in
eval mode with ``model.pretrained_cfg`` holding the mean, std, input size, class count and label names it was
trained with. Without ``pretrained`` the model is untrained.
"""
dependencies = ["torch", "timm", "safetensors"]

from cifar100lab.export import hub_entry as _hub_entry  # noqa: E402
from cifar100lab.models import model_names as _model_names  # noqa: E402

for _name in _model_names():
    globals()[_name] = _hub_entry(_name)
