#!/usr/bin/env python3
"""vm.probe: run uringcmd-probe INSIDE the test VM and check its report against the guest.

    scripts/vm run [--kernel SPEC] -- tests/vm/check-probe.py --probe build/dev/src/uringcmd-probe

The expected devices come from the guest itself (sysfs, /dev), so the check holds for any kernel:
  * every kernel:   the probe exits 0 and prints valid JSON; "kernel" is the running kernel;
                    io_uring.ops.URING_CMD is true; devices.bsg lists both SCSI targets (QEMU's
                    virtio-scsi disk and scsi_debug) with their models; devices.nvme_ctrl has
                    /dev/nvme0; devices.nvme_generic has /dev/ng0n1; devices.ublk_control.present
                    matches /dev/ublk-control (Debian's 6.1 has no ublk_drv)
  * Linux >= 6.5:   with ublk, ublk_control.features != 0 and feature_names lists them
                    (UBLK_U_CMD_GET_FEATURES)
  * Linux >= 7.2:   /dev/ublk-control exists; devices.bsg_uring_cmd is true
  * Linux <  7.1:   devices.bsg_uring_cmd is false or null: the probe reports BSG io_uring as missing
  * every kernel:   kernel_features lists every feature of include/uringcmd/feature.hpp with its
                    first release; socket_uring_cmd is present exactly from 6.7, bsg_uring_cmd
                    agrees with devices.bsg_uring_cmd, ublk with devices.ublk_control.present
--kernel-prefix 6.12. also checks that the guest runs the kernel of the matrix entry.
--json-out FILE writes the probe's JSON there (a --share'd directory) for scripts/gen-compatibility.
"""
import argparse
import glob
import json
import os
import re
import subprocess
import sys

failures = []


def check(name, ok, detail=""):
    print(f"{'PASS' if ok else 'FAIL'}  {name}" + (f"  ({detail})" if detail else ""))
    if not ok:
        failures.append(name)


def version(release):
    m = re.match(r"(\d+)\.(\d+)", release)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def scsi_targets():
    """{model: /dev/bsg/H:C:T:L} of the guest's SCSI devices, from sysfs."""
    found = {}
    for d in sorted(glob.glob("/sys/class/bsg/*")):
        try:
            with open(os.path.join(d, "device/model")) as f:
                found.setdefault(f.read().strip(), "/dev/bsg/" + os.path.basename(d))
        except OSError:
            pass  # a host's bsg node (no SCSI device behind it)
    return found


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--probe", required=True, help="path of the uringcmd-probe binary")
    ap.add_argument("--kernel-prefix", default="", help="the guest kernel release must start with this")
    ap.add_argument("--json-out", help="also write the probe's JSON to this file")
    args = ap.parse_args()

    if os.environ.get("UC_VM_GUEST") != "1":
        print("check-probe.py runs inside the VM: scripts/vm run -- " + " ".join(sys.argv), file=sys.stderr)
        return 2

    human = subprocess.run([args.probe], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print("----- uringcmd-probe -----\n" + human.stdout.rstrip() + "\n--------------------------")
    check("uringcmd-probe exits 0", human.returncode == 0, f"status {human.returncode}")

    raw = subprocess.run([args.probe, "--json"], stdout=subprocess.PIPE, text=True)
    check("uringcmd-probe --json exits 0", raw.returncode == 0, f"status {raw.returncode}")
    try:
        report = json.loads(raw.stdout)
    except ValueError as e:
        check("uringcmd-probe --json prints JSON", False, f"{e}: {raw.stdout[:200]!r}")
        return 1

    if args.json_out:
        with open(args.json_out, "w") as f:
            f.write(raw.stdout)

    release = os.uname().release
    v = version(release)
    check("kernel is the running kernel", report.get("kernel") == release, f"{report.get('kernel')} vs {release}")
    if args.kernel_prefix:
        check(f"guest kernel is {args.kernel_prefix}*", release.startswith(args.kernel_prefix), release)

    ops = report.get("io_uring", {}).get("ops", {})
    check("io_uring.ops.URING_CMD", ops.get("URING_CMD") is True, f"URING_CMD={ops.get('URING_CMD')}")

    devices = report.get("devices", {})
    listed = {e.get("node"): e for e in devices.get("bsg", [])}
    targets = scsi_targets()
    for model in ("QEMU HARDDISK", "scsi_debug"):
        node = targets.get(model)
        entry = listed.get(node, {})
        check(f"devices.bsg lists the {model} target", node is not None and node in listed,
              f"sysfs: {node}, probe: {sorted(listed)}")
        if entry.get("model") is not None:
            check(f"devices.bsg model of {node}", entry["model"].strip() == model, repr(entry["model"]))

    check("devices.nvme_ctrl has /dev/nvme0", "/dev/nvme0" in devices.get("nvme_ctrl", []),
          str(devices.get("nvme_ctrl")))
    check("devices.nvme_generic has /dev/ng0n1", "/dev/ng0n1" in devices.get("nvme_generic", []),
          str(devices.get("nvme_generic")))

    # Debian's 6.1 kernel has no ublk_drv at all; the probe must then say it is absent.
    ublk = devices.get("ublk_control", {})
    have_ublk = os.path.exists("/dev/ublk-control")
    if v >= (7, 2):
        check("/dev/ublk-control exists in the guest", have_ublk)
    check(f"devices.ublk_control.present is {str(have_ublk).lower()}", ublk.get("present") is have_ublk,
          json.dumps(ublk))
    features = ublk.get("features")
    mask = int(features, 16) if isinstance(features, str) else (features or 0)
    if have_ublk and v >= (6, 5):  # UBLK_U_CMD_GET_FEATURES
        check("ublk features reported", mask != 0 and bool(ublk.get("feature_names")),
              f"{features}: {' '.join(ublk.get('feature_names') or [])}")
    else:
        print(f"INFO  ublk on {release}: {json.dumps(ublk)} (GET_FEATURES needs Linux >= 6.5 and ublk_drv)")

    bsg_uring = devices.get("bsg_uring_cmd", report.get("bsg_uring_cmd"))
    detail = f"bsg_uring_cmd={json.dumps(bsg_uring)} {devices.get('bsg_uring_cmd_detail', '')}".strip()
    if v >= (7, 2):
        check("BSG io_uring passthrough supported (Linux >= 7.2)", bsg_uring is True, detail)
    elif v < (7, 1):
        check(f"BSG io_uring reported missing on {release}", bsg_uring is not True, detail)
    else:
        print(f"INFO  {detail}")

    kf = report.get("kernel_features", {})
    check("kernel_features lists the feature table", len(kf) >= 20 and all("since" in e and "present" in e for e in kf.values()),
          f"{len(kf)} entries")
    sock = kf.get("socket_uring_cmd", {}).get("present")
    check(f"kernel_features.socket_uring_cmd is {str(v >= (6, 7)).lower()}", sock is (v >= (6, 7)), json.dumps(sock))
    check("kernel_features.ublk matches devices.ublk_control.present",
          kf.get("ublk", {}).get("present") is ublk.get("present"), json.dumps(kf.get("ublk")))
    if bsg_uring is not None:
        check("kernel_features.bsg_uring_cmd matches devices.bsg_uring_cmd",
              kf.get("bsg_uring_cmd", {}).get("present") is bsg_uring, json.dumps(kf.get("bsg_uring_cmd")))

    print(f"SUMMARY: {'all checks passed' if not failures else 'FAILED: ' + ', '.join(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
