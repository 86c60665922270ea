#!/usr/bin/env python3
"""(h) durability, check phase: run in a fresh VM whose disks are the images
the host reconstructed at power-cut points.  The last disk holds the list
(JSON, NUL-padded) of which acknowledged writes each image must contain.
Each image is mounted (btrfs replays its log tree, as after a real power
cut), every required write is read back by dsync_ack, and the result is
printed as "@@harness cut K ok|lost|mount-failed ..."."""
import json
import subprocess
import sys

helper, listdev = sys.argv[1], sys.argv[2]
with open(listdev, "rb") as fh:
    spec = json.loads(fh.read(4 << 20).split(b"\0", 1)[0])
failed = 0
for cut in spec["cuts"]:
    k, dev = cut["cut"], cut["disk"]
    if subprocess.run(["mount", "-t", "btrfs", dev, "/mnt"]).returncode != 0:
        print(f"@@harness cut {k} mount-failed", flush=True)
        failed += 1
        continue
    lost, checked = 0, 0
    for mode, indexes in cut["required"].items():
        if not indexes:
            continue
        checked += len(indexes)
        r = subprocess.run([helper, "check", mode, f"/mnt/durability-{mode}.dat",
                            str(spec["block"]), ",".join(map(str, indexes))],
                           capture_output=True, text=True)
        sys.stdout.write(r.stdout)
        lost += r.stdout.count("@@harness lost ")
    subprocess.run(["umount", "/mnt"], check=True)
    print(f"@@harness cut {k} {'lost' if lost else 'ok'} checked={checked} lost={lost}",
          flush=True)
    failed += bool(lost)
sys.exit(1 if failed else 0)
