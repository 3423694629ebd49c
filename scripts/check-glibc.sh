#!/usr/bin/env bash
# Usage: scripts/check-glibc.sh <file.node>... [max-version]   (max defaults to 2.17)
# Prints the highest GLIBC_x.y symbol version each ELF file needs and exits non-zero if it is above max.
# objdump -T is used when it understands the file; readelf (architecture-independent) otherwise, so an
# aarch64 .node can be checked on an x86_64 runner.
set -euo pipefail

max=2.17
files=()
for arg in "$@"; do
  if [[ "$arg" =~ ^[0-9]+(\.[0-9]+)+$ ]]; then max="$arg"; else files+=("$arg"); fi
done
if [ "${#files[@]}" -eq 0 ]; then
  echo "usage: $0 <file.node>... [max-glibc-version]" >&2
  exit 2
fi

status=0
for f in "${files[@]}"; do
  if [ ! -f "$f" ]; then echo "check-glibc: $f: no such file" >&2; exit 2; fi
  if syms="$(objdump -T "$f" 2>/dev/null)"; then tool="objdump -T"
  elif syms="$(readelf -W --dyn-syms "$f" 2>/dev/null)"; then tool="readelf --dyn-syms"
  else echo "check-glibc: neither objdump nor readelf can read $f" >&2; exit 2
  fi
  highest="$(printf '%s\n' "$syms" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/^GLIBC_//' | sort -Vu | tail -1 || true)"
  if [ -z "$highest" ]; then
    echo "check-glibc: $f references no GLIBC_ symbol versions (not a glibc binary?)" >&2
    status=1
    continue
  fi
  top="$(printf '%s\n%s\n' "$highest" "$max" | sort -V | tail -1)"
  if [ "$top" != "$max" ]; then
    echo "check-glibc: FAIL $f needs GLIBC_$highest > allowed GLIBC_$max ($tool)" >&2
    printf '%s\n' "$syms" | grep "GLIBC_$highest" | head -5 >&2 || true
    status=1
  else
    echo "check-glibc: ok $f highest GLIBC_$highest <= GLIBC_$max ($tool)"
  fi
done
exit "$status"
