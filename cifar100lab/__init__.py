"""cifar100lab: CIFAR-100 benchmark of ResNet baselines and modern architectures."""
from .progress import finish_imports_before_a_stop

__version__ = "0.1.0"

finish_imports_before_a_stop(__name__)  # a notebook's stop button never leaves torch half-imported
