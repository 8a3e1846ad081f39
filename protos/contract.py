"""Facts of the contract that code on both sides checks against (plain Python: no grpc, no MXNet)."""
import re

# The seed network's named outputs, in forward order: what Inspect streams and GetGraph lists.
LAYERS = ("Conv1", "Act1", "Pool1", "Conv2", "Act2", "Pool2", "Flat", "Full1", "Act3", "Full2", "SoftM")

# Samples in each MNIST split, for validating indices before a worker loads the data.
SPLIT_SIZES = {"train": 60_000, "test": 10_000}


def file_prefix(model_name: str) -> str:
    """The prefix of a model's exported file names: its name with anything but letters, digits, '.', '_' and '-'
    replaced, at most 64 characters, no leading '.' or '-' (so never hidden, an option or '..'); else "lenet"."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", model_name)[:64].lstrip(".-") or "lenet"
