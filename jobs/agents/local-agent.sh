#!/bin/sh
# A small local "agent" for the command preset: it reads the prompt (its one argument),
# summarises the example jobs' output files without any network, and reports its cost on
# the last line as JSON, the way the command preset expects.
set -eu
prompt=$1
printf 'prompt: %s\n\n' "$(printf '%s' "$prompt" | head -n 1)"
found=0
for f in out/*.txt; do
  [ -f "$f" ] || continue
  found=1
  printf '%s: %s lines, last: %s\n' "$f" "$(wc -l < "$f" | tr -d ' ')" "$(tail -n 1 "$f")"
done
[ "$found" = 1 ] || echo "no output files yet (run the script jobs first)"
warnings=$(cat out/*.txt 2>/dev/null | grep -c -i warning || true)
printf '\nsummary: %s warning lines in the job outputs\n' "$warnings"
printf '{"cost": 0, "usage": {"input_tokens": %s, "output_tokens": 0}}\n' "$(printf '%s' "$prompt" | wc -c | tr -d ' ')"
