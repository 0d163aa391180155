import json
import pickle
import re
import urllib.error

import pytest
import torch

from cifar100lab import data
from cifar100lab.data import DataError, load_dataset, write_synthetic_cifar100


def test_synthetic_dataset_is_read_by_the_cifar_reader_and_labelled(synthetic_root):
    ds = load_dataset("synthetic", synthetic_root)
    assert ds.train_x.shape == (1024, 3, 32, 32) and ds.train_x.dtype == torch.uint8
    assert ds.test_x.shape == (300, 3, 32, 32) and ds.num_classes == 10
    assert ds.kind == "synthetic" and "synthetic" in ds.label
    assert ds.describe()["checksum"].startswith("md5:")


def test_official_layout_with_official_md5s(tmp_path, monkeypatch):
    folder = write_synthetic_cifar100(tmp_path, train_size=50, test_size=20, num_classes=100)
    manifest = json.loads((folder / data.SYNTHETIC_MANIFEST).read_text())
    (folder / data.SYNTHETIC_MANIFEST).unlink()
    # Pretend these are the official files: the cifar100 path must read them through the same reader.
    monkeypatch.setattr(data.datasets, "CIFAR100_MD5", manifest["md5"])
    ds = load_dataset("cifar100", tmp_path, download=False)
    assert ds.kind == "real" and ds.label == "CIFAR-100" and len(ds.train_y) == 50 and ds.num_classes == 100
    with open(folder / "train", "rb") as f:
        raw = pickle.load(f, encoding="latin1")
    assert torch.equal(ds.train_x[3].reshape(-1), torch.tensor(raw["data"][3]))
    assert ds.train_y.tolist() == raw["fine_labels"]


def test_md5_mismatch_is_one_clear_error(tmp_path):
    write_synthetic_cifar100(tmp_path, train_size=20, test_size=10)
    with pytest.raises(DataError, match=r"has md5 [0-9a-f]{32}, expected 16019d7e3df5f24257cddd939b257f8d"):
        load_dataset("cifar100", tmp_path, download=False)


def test_corrupted_synthetic_file_fails_its_manifest_check(tmp_path):
    folder = write_synthetic_cifar100(tmp_path / "synthetic", train_size=20, test_size=10)
    with open(folder / "test", "ab") as f:
        f.write(b"x")
    with pytest.raises(DataError, match="test has md5"):
        load_dataset("synthetic", tmp_path)


def test_offline_without_data_names_tarball_and_stand_ins(tmp_path, monkeypatch):
    with pytest.raises(DataError) as e:
        load_dataset("cifar100", tmp_path, download=False)
    msg = str(e.value)
    assert "cifar-100-python.tar.gz" in msg and "fashion-mnist" in msg and "synthetic" in msg
    assert str(tmp_path) in msg

    def no_network(*a, **k):
        raise urllib.error.URLError("Name or service not known")
    monkeypatch.setattr("torchvision.datasets.utils.download_and_extract_archive", no_network)
    with pytest.raises(DataError, match="download failed.*Name or service not known"):
        load_dataset("cifar100", tmp_path, download=True)
    assert not (tmp_path / "cifar-100-python").exists()


def test_unknown_dataset():
    with pytest.raises(DataError, match="valid: cifar100, fashion-mnist, synthetic"):
        load_dataset("imagenet")


def test_fashion_mnist_stand_in(fashion_root):
    ds = load_dataset("fashion-mnist", fashion_root)
    assert ds.kind == "stand-in" and "stand-in" in ds.label
    assert ds.train_x.shape == (60000, 3, 32, 32) and ds.test_x.shape == (10000, 3, 32, 32)
    assert ds.num_classes == 10 and set(ds.train_y.unique().tolist()) == set(range(10))
    assert ds.train_x[:, :, :2].max() == 0 and ds.train_x[:, :, :, -2:].max() == 0  # zero padding 28 -> 32
    assert torch.equal(ds.train_x[:, 0], ds.train_x[:, 2])  # grey replicated to RGB
    assert (fashion_root / "FashionMNIST" / "raw" / "train-images-idx3-ubyte").is_file()  # torchvision layout


def test_fashion_mnist_gz_files_in_torchvision_raw_folder_are_enough(fashion_root, tmp_path, monkeypatch):
    """A machine without Debian's package (e.g. a GPU box) loads the .gz files copied into FashionMNIST/raw."""
    import shutil
    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for n in data.FASHION_MD5:
        shutil.copy(data.FASHION_DEBIAN_DIR / f"{n}.gz", raw / f"{n}.gz")
    monkeypatch.setattr(data.datasets, "FASHION_DEBIAN_DIR", tmp_path / "no-debian-package")
    ds = load_dataset("fashion-mnist", tmp_path, download=False, train_subset=100)
    assert ds.kind == "stand-in" and len(ds.train_y) == 100 and len(ds.test_y) == 10000
    (raw / "t10k-labels-idx1-ubyte").write_bytes(b"corrupt")
    with pytest.raises(DataError, match="md5"):
        load_dataset("fashion-mnist", tmp_path, download=False)


def test_fixed_subsets_are_the_same_every_time(synthetic_root):
    a = load_dataset("synthetic", synthetic_root, train_subset=100, test_subset=50)
    b = load_dataset("synthetic", synthetic_root, train_subset=100, test_subset=50)
    assert torch.equal(a.train_x, b.train_x) and len(a.test_y) == 50
    assert a.describe()["train_subset"] == 100 and a.describe()["train_full_size"] == 1024


def test_crop_flip_matches_per_image_reference():
    x = torch.randint(0, 255, (6, 3, 32, 32), dtype=torch.uint8)
    shifts = torch.tensor([[0, 0], [8, 8], [4, 4], [1, 7], [3, 0], [8, 2]])
    flips = torch.tensor([False, True, False, True, False, True])
    out = data.crop_flip(x, shifts, flips)
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
    for i in range(6):
        dy, dx = shifts[i].tolist()
        ref = padded[i, :, dy:dy + 32, dx:dx + 32]
        assert torch.equal(out[i], ref.flip(2) if flips[i] else ref)
    assert torch.equal(data.crop_flip(x, torch.full((6, 2), 4), torch.zeros(6, dtype=torch.bool)), x)


def test_ddp_shards_are_disjoint_and_same_plan_every_time():
    x = torch.arange(100).view(100, 1, 1, 1).expand(100, 3, 32, 32).to(torch.uint8)
    y = torch.arange(100)
    seen = []
    for rank in range(2):
        seen += [int(v) for _, yb in data.train_batches(x, y, 16, epoch=3, seed=1, rank=rank, world_size=2,
                                                        augment=False) for v in yb]
    assert len(seen) == len(set(seen)) == 96  # 3 global steps of 2 × 16, no duplicates
    again = [int(v) for _, yb in data.train_batches(x, y, 16, epoch=3, seed=1, rank=0, world_size=2) for v in yb]
    assert again == seen[:48]


def test_batches_follow_the_images_device_when_the_epoch_draws_are_on_the_cpu():
    # The epoch's draws (order, crop offsets, flips) is drawn on the CPU; the images live on the GPU. The meta
    # device stands in for the GPU here: mixing it with CPU tensors fails as cuda:0 with cpu does.
    x = torch.zeros(8, 3, 32, 32, dtype=torch.uint8, device="meta")
    y = torch.zeros(8, dtype=torch.long, device="meta")
    batches = list(data.train_batches(x, y, 4, epoch=0, seed=0))
    assert [(xb.device.type, xb.shape, yb.device.type) for xb, yb in batches] == [("meta", (4, 3, 32, 32), "meta")] * 2


def test_no_step_copies_from_the_host_the_epoch_draws_move_to_the_device_once_per_epoch():
    # On a GPU each pageable host-to-device copy blocks the host until the queue drains. The meta device stands in
    # for the GPU: a 2-step and an 8-step epoch copy the same (the draws, once), so a step copies nothing.
    from host_traffic import HostTraffic

    def copies(steps):
        x = torch.zeros(4 * steps, 3, 32, 32, dtype=torch.uint8, device="meta")
        y = torch.zeros(4 * steps, dtype=torch.long, device="meta")
        with HostTraffic() as traffic:
            batches = list(data.train_batches(x, y, 4, epoch=0, seed=0))
        assert len(batches) == steps
        return traffic.events

    assert copies(8) == copies(2)
    assert len(copies(2)) <= 3  # order, crop offsets, flips


def test_the_epoch_draws_on_the_device_are_the_host_draws():
    host = data.epoch_draws(100, epoch=3, seed=1)
    moved = data.epoch_draws(100, epoch=3, seed=1, device="meta")
    assert [t.device.type for t in moved] == ["meta"] * 3
    assert [(t.shape, t.dtype) for t in moved] == [(t.shape, t.dtype) for t in host]


def test_an_epoch_has_as_many_steps_as_full_global_batches():
    assert data.full_batches(100, 16) == 6 and data.full_batches(100, 16, world_size=2) == 3
    assert len(list(data.train_batches(torch.zeros(100, 3, 32, 32, dtype=torch.uint8), torch.zeros(100).long(), 16,
                                       epoch=0, seed=0, world_size=2))) == 3


def test_every_registered_dataset_names_its_classes_from_its_small_files_alone(tmp_path, monkeypatch):
    """An export names its classes through the registry entry (one place per dataset): a CIFAR-10 export said
    its names were not on the machine while batches.meta was there."""
    from cifar100lab.data import cifar10, dataset_entry
    from cifar100lab.data.registry import DataRequest
    md5s = cifar10.write_synthetic_cifar10(tmp_path, train_size=20, test_size=10)
    request = DataRequest(tmp_path)
    with pytest.raises(DataError, match="not the official file"):  # unofficial bytes are not read as CIFAR-10's
        data.DATASETS["cifar10"].class_names(request)
    monkeypatch.setattr(cifar10, "_official_md5s", lambda: md5s)
    assert data.DATASETS["cifar10"].class_names(request) == [f"class_{i}" for i in range(10)]
    write_synthetic_cifar100(tmp_path / "synthetic", train_size=20, test_size=10, num_classes=10)
    assert len(data.DATASETS["synthetic"].class_names(request)) == 10
    assert data.DATASETS["fashion-mnist"].class_names(request)[0] == "T-shirt/top"
    for name in ("cat", "dog"):
        for split in ("train", "test"):
            (tmp_path / "pets" / split / name).mkdir(parents=True)
            (tmp_path / "pets" / split / name / "0.png").write_bytes(b"")  # listed, never opened
    assert dataset_entry(f"imagefolder:{tmp_path / 'pets'}").class_names(request) == ["cat", "dog"]
    assert all(entry.class_names for entry in data.DATASETS.values())


def test_an_image_folders_subsets_are_bounded_by_its_files_counted_before_any_image_is_read(tmp_path):
    """An image folder's entry is made by listing it, so its real counts bound a run's subsets at resolve."""
    from PIL import Image

    from cifar100lab.config import ConfigError, resolve
    for name in ("cat", "dog"):
        (tmp_path / name).mkdir()
        for i in range(5):  # every 5th image is a test image: 4 + 1 a class
            Image.new("RGB", (8, 8), (40 * i, 0, 0)).save(tmp_path / name / f"{i}.png")
    folder = f"imagefolder:{tmp_path}"
    with pytest.raises(ConfigError, match=re.escape(f"train_subset 9 is more than the 8 training images of {folder}; "
                                                    f"give at most 8, or leave it out for all of them")):
        resolve({"dataset": folder, "train_subset": 9, "batch_size": 4})
    with pytest.raises(ConfigError, match="test_subset 3 is more than the 2 test images"):
        resolve({"dataset": folder, "test_subset": 3, "batch_size": 4})
    assert resolve({"dataset": folder, "train_subset": 8, "test_subset": 2, "batch_size": 4}).dataset.sizes == (8, 2)


def test_reading_a_subset_larger_than_its_split_takes_all_of_it_for_runs_that_trained_before_the_check(
        synthetic_root):
    """load_dataset also reads for evaluating old runs, whose subset larger than the split did nothing."""
    ds = load_dataset("synthetic", synthetic_root, train_subset=5000, test_subset=5000)
    assert (len(ds.train_y), len(ds.test_y)) == (1024, 300) and "train_subset" not in ds.describe()


def test_a_validation_fraction_that_holds_out_no_image_is_refused_when_read_too(synthetic_root):
    """resolve refuses it wherever the sizes are known; reading refuses it for a plugin that does not say its own."""
    from cifar100lab.data import hold_out
    ds = load_dataset("synthetic", synthetic_root, train_subset=4)
    with pytest.raises(DataError, match=r"^val_fraction 0.1 holds out none of the 4 training images \(0.1 × 4"):
        hold_out(ds.train_x, ds.train_y, 0.1)
    assert len(hold_out(ds.train_x, ds.train_y, 0.25)[3]) == 1
