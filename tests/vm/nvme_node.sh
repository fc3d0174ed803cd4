# shellcheck shell=bash
# Sourced by the VM test scripts. The kernel scans NVMe namespaces in parallel, so the instance N
# of /dev/nvme0nN and /dev/ng0nN is not the nsid and changes from boot to boot: find nodes by nsid.
# nvme_node NSID block|generic -> /dev/nvme0nN or /dev/ng0nN of controller nvme0's namespace NSID
nvme_node() {
  local b n
  for b in /sys/class/block/nvme0n*; do
    [[ -f $b/nsid && $(<"$b/nsid") == "$1" ]] || continue
    n=${b##*/nvme0n}
    case $2 in
      block) echo "/dev/nvme0n$n" ;;
      generic) echo "/dev/ng0n$n" ;;
    esac
    return 0
  done
  echo "/dev/no-nvme0-namespace-$1"
}
