"""Where a streamed split is kept after its first epoch: `cache=auto|memory|disk|none`.

Decoding is the input pipeline's cost (a 12-megapixel JPEG takes tens of
milliseconds to decode, for a 64x64 input), so the training and validation
splits, read every epoch, are kept once decoded: in memory when they fit a
budget, else in a file under the run directory (`cache/`, removed when the
run ends), read back in order. `none` decodes every epoch (the least memory
and disk; the files are reshuffled whole each epoch). The test split is read
once and never cached.

The memory budget is an eighth of the memory available when the run starts,
at most `MEMORY_BUDGET_MAX`: enough for tens of thousands of small images,
while a folder whose decoded splits would not fit keeps the process small
(the bench's 100,000 64x64 images, 4.9 GB decoded, go to disk).
"""

import dataclasses

from kerasdl.config_checks import CACHES
from kerasdl.errors import UserError

MEMORY_BUDGET_MAX = 512 * 2**20
# A split cached on disk needs room for itself and this much more.
DISK_MARGIN_BYTES = 2**30


def available_memory():
    """Bytes of memory available to new allocations (Linux's MemAvailable; elsewhere all physical memory)."""
    try:
        with open("/proc/meminfo") as lines:
            for line in lines:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import os

    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def memory_budget():
    """`(bytes, why)`: what the data held in memory may take, an eighth of
    the memory available now, at most `MEMORY_BUDGET_MAX`."""
    available = available_memory()
    return min(
        MEMORY_BUDGET_MAX, available // 8
    ), f"an eighth of the {gib(available)} available, at most {gib(MEMORY_BUDGET_MAX)}"


def free_disk(folder):
    """Free bytes on the file system that holds `folder` (made or not yet)."""
    import shutil
    from pathlib import Path

    folder = Path(folder).absolute()
    while not folder.exists():
        folder = folder.parent
    return shutil.disk_usage(folder).free


def gib(size):
    """`size` bytes in GiB, MiB or KiB, as a run's log says them."""
    if size >= 2**30:
        return f"{size / 2**30:.2f} GiB"
    return f"{size / 2**20:.0f} MiB" if size >= 2**20 else f"{size / 2**10:.0f} KiB"


@dataclasses.dataclass
class CachePlan:
    """Where each cached split goes (`memory`, `disk` or `none`) and why.

    Args:
        places: `{split: where}` for `train` and `validation`.
        reason: one line for the run's log.
    """

    places: dict
    reason: str

    def where(self, split):
        return self.places.get(split, "none")

    @classmethod
    def decide(cls, cache, sizes, budget=None, disk_room=None):
        """The plan for `cache` given each split's decoded `sizes` in bytes.

        Args:
            cache: one of `CACHES`.
            sizes: `{split: bytes decoded}`, training split first.
            budget: bytes of memory the caches may take together; None
                measures it (`available_memory`).
            disk_room: free bytes where disk caches go; None: unlimited.

        Example:
            >>> CachePlan.decide("auto", {"train": 3 * 2**30, "validation": 2**27}, budget=2**29).places
            {'train': 'disk', 'validation': 'memory'}
        """
        if cache not in CACHES:
            raise UserError(f"cache={cache!r} is not one of: {', '.join(CACHES)}")
        if cache != "auto":
            return cls({split: cache for split in sizes}, f"cache={cache}")
        if budget is None:
            budget, source = memory_budget()
        else:
            source = "given"
        places, left = {}, budget
        for split, size in sizes.items():
            if size <= left:
                places[split], left = "memory", left - size
            elif disk_room is None or size + DISK_MARGIN_BYTES <= disk_room:
                places[split] = "disk"
            else:
                places[split] = "none"
        described = ", ".join(f"{split} {gib(size)} in {places[split]}" for split, size in sizes.items())
        return cls(places, f"cache=auto: {described} (memory budget {gib(budget)}: {source})")
