"""Back-compat alias: the registry lives in :mod:`cifar100lab.models` (timm's layout). Import from there."""
from .models import *  # noqa: F401,F403
from .models import __all__  # noqa: F401
