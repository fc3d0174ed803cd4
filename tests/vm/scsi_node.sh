# shellcheck shell=bash
# Sourced by the VM test scripts. The guest has no udev (so no /dev/disk/by-* links): SCSI devices
# are found by model through sysfs.
# scsi_node MODEL bsg|sg|block -> the /dev node of the first SCSI device whose model starts so
scsi_node() {
  local d name
  for d in /sys/class/scsi_device/*; do
    [[ -f $d/device/model && $(<"$d/device/model") == "$1"* ]] || continue
    case $2 in
      bsg) echo "/dev/bsg/${d##*/}" ;;
      sg) for name in "$d"/device/scsi_generic/*; do echo "/dev/${name##*/}"; done ;;
      block) for name in "$d"/device/block/*; do echo "/dev/${name##*/}"; done ;;
    esac
    return 0
  done
  echo "/dev/no-scsi-device-with-model-$1"
}
