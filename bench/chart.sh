#!/usr/bin/env bash
# Bars from bench/all.sh's results.tsv (gnuplot, Debian's gnuplot-nox):
# the nginx rows' ratio to the static-file baseline, and their req/s.
#   bench/chart.sh [RESULTS.tsv] [OUT.svg]   (build/bench/results.tsv -> build/bench/bench.svg)
set -euo pipefail
cd "$(dirname "$0")/.."
in=${1:-build/bench/results.tsv}
svg=${2:-build/bench/bench.svg}
data=$(mktemp /tmp/spa-bench-chart-XXXXXX)
trap 'rm -f "$data"' EXIT
# nginx rows only (unit req/s): label, ratio, req/s
awk -F'\t' 'NR > 1 && $4 == "req/s" {gsub(/"/, "", $2); printf "\"%s\"\t%s\t%s\n", $2, $6, $3}' "$in" > "$data"
gnuplot <<GP
set terminal svg size 1000,760 dynamic font "sans,11" background rgb "white"
set output "$svg"
set datafile separator "\t"
set style data histograms
set style fill solid 0.8 border -1
set boxwidth 0.7
set grid ytics
set xtics rotate by -30 left
set key off
set lmargin 10
set multiplot layout 2,1 title "make bench: one nginx worker on one core (wrk on the other)"
set title "ratio to the static-file baseline (median of alternating pairs)"
set yrange [0:1.15]
plot "$data" using 2:xtic(1) lc rgb "#3b6ea8", '' using 0:2:(sprintf("%.2f", \$2)) with labels offset 0,0.7 notitle
set title "requests/s"
set yrange [0:*]
set format y "%.0s%c"
plot "$data" using 3:xtic(1) lc rgb "#5a9e4b", '' using 0:3:(sprintf("%.0f", \$3)) with labels offset 0,0.7 notitle
unset multiplot
GP
echo "==> chart: $svg"
