"""cifar100lab: CIFAR-100 benchmark of ResNet baselines and modern architectures."""
__version__ = "0.1.0"
