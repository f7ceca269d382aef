#!/bin/sh
# Records that the machine was up at the start and end of the working day.
set -eu
mkdir -p out
printf '%s %s run %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$JOBCTL_JOB_NAME" "$JOBCTL_RUN_ID" >> out/heartbeat.txt
echo "heartbeat recorded (scheduled for $JOBCTL_SCHEDULED_FOR)"
