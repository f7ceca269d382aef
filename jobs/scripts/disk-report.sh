#!/bin/sh
# Appends the free space of the disk holding this folder to out/disk.txt, and warns when
# less than 10% is left.
set -eu
mkdir -p out
line=$(df -P . | awk 'NR==2 {print $4, $5, $6}')
printf '%s %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$line" >> out/disk.txt
used=$(printf '%s\n' "$line" | awk '{gsub("%", "", $2); print $2}')
echo "disk: $line (available KiB, used, mount)"
if [ "$used" -ge 90 ]; then
  echo "warning: disk ${used}% full" >&2
fi
