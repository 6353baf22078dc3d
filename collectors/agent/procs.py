"""Which GPUs a local inference server uses: the process listening on its port,
its child processes (vLLM's and SGLang's GPU workers), and NVML's list of the
processes on each GPU. Linux /proc only; in a container the agent needs the
host's PID namespace (hostPID) to see the servers."""

import os
from collections import defaultdict
from pathlib import Path

PROC = Path("/proc")
_LISTEN = "0A"


def listening_pid(port: int) -> int | None:
    """The pid of the process listening on TCP `port`, or None if it cannot be seen."""
    inodes = set()
    for table in ("net/tcp", "net/tcp6"):
        try:
            lines = (PROC / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            listening = len(fields) > 9 and fields[3] == _LISTEN
            if listening and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    if not inodes:
        return None
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    return int(entry.name)
        except OSError:  # gone, or not ours to read
            continue
    return None


def process_tree(pid: int) -> set[int]:
    """`pid` and all its descendants."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children[parent].append(int(entry.name))
    tree, todo = set(), [pid]
    while todo:
        current = todo.pop()
        if current not in tree:
            tree.add(current)
            todo.extend(children.get(current, ()))
    return tree


def gpu_memory_of(
    pid: int, gpu_processes: dict[str, list[tuple[int, int | None]]] | None
) -> dict[str, int | None] | None:
    """GPU uuid -> bytes held by `pid` and its descendants, for each GPU on which one
    of them runs: None for a GPU where none of them reports its memory (NVML's "not
    available", as under Windows' WDDM driver model); None overall if unknown."""
    if gpu_processes is None:
        return None
    tree = process_tree(pid)
    held: dict[str, int | None] = {}
    for uuid, running in gpu_processes.items():
        ours = [used for p, used in running if p in tree]
        if ours:
            known = [used for used in ours if used is not None]
            held[uuid] = sum(known) if known else None
    return held
