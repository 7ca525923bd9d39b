#!/bin/bash
# After `make test SANITIZE=1`: every process the suites ran (unit tests,
# spa-authd, nginx with the module) wrote its ASan, LSan or UBSan report,
# if it had one, under DIR. Prints them and fails when there is any.
set -u
dir=$1
reports=$(find "$dir" -type f -size +0 2>/dev/null | sort)
if [ -z "$reports" ]; then
  echo "==> sanitizers: no report"
  exit 0
fi
echo "==> sanitizers: $(echo "$reports" | wc -l) report(s) in $dir"
for f in $reports; do
  echo "--- $f"
  head -40 "$f"
done
exit 1
