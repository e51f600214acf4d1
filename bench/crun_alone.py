"""The start limit of bench/run.sh: how long `crun run` takes to create, start and reap a minimal
container (busybox `true`; crun's default namespaces: pid, network, ipc, uts, mount) with no
server around it. Prints one JSON object with the p50 and p95 in milliseconds.

Usage: crun_alone.py SAMPLES (needs root, crun and busybox-static, as the server does).

Like the server's sandbox supervisor, it runs crun with `--cgroup-manager=cgroupfs` in a private
mount namespace without the empty cgroup v2 mount of hybrid hosts (crun refuses hybrid mode)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time


HYBRID_MOUNT = "/sys/fs/cgroup/unified"


def private_namespace() -> None:
    """Re-runs this script in a private mount namespace without the hybrid cgroup v2 mount."""
    with open("/proc/self/mounts") as mounts:
        hybrid = any(line.split()[1:3] == [HYBRID_MOUNT, "cgroup2"] for line in mounts)
    if not hybrid:
        return
    if os.environ.get("PORTER_BENCH_PRIVATE_MOUNTS") == "1":
        subprocess.run(["umount", "-l", HYBRID_MOUNT], check=True)
        return
    env = {**os.environ, "PORTER_BENCH_PRIVATE_MOUNTS": "1"}
    argv = ["unshare", "-m", "--propagation", "private", sys.executable, *sys.argv]
    sys.exit(subprocess.run(argv, env=env).returncode)


def main() -> None:
    samples = int(sys.argv[1])
    private_namespace()
    busybox = shutil.which("busybox") or "/bin/busybox"
    with tempfile.TemporaryDirectory(prefix="porter-bench-crun-") as bundle:
        rootfs = os.path.join(bundle, "rootfs", "bin")
        os.makedirs(rootfs)
        shutil.copy(busybox, os.path.join(rootfs, "busybox"))
        subprocess.run(["crun", "spec"], cwd=bundle, check=True)
        config_path = os.path.join(bundle, "config.json")
        with open(config_path) as f:
            config = json.load(f)
        config["process"]["args"] = ["/bin/busybox", "true"]
        config["process"]["terminal"] = False
        with open(config_path, "w") as f:
            json.dump(config, f)
        times = []
        for index in range(samples + 1):
            name = f"porter-bench-crun-{os.getpid()}-{index}"
            started = time.perf_counter()
            subprocess.run(["crun", "--cgroup-manager=cgroupfs", "run", "--bundle", bundle, name], check=True,
                           stdin=subprocess.DEVNULL)  # fmt: skip
            if index > 0:  # the first one warms the page cache
                times.append(time.perf_counter() - started)
        times.sort()
        p50 = times[round((len(times) - 1) * 0.5)] * 1000
        p95 = times[round((len(times) - 1) * 0.95)] * 1000
    print(json.dumps({"crun_p50_ms": p50, "crun_p95_ms": p95}))


if __name__ == "__main__":
    main()
