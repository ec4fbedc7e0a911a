#!/bin/sh
# Draws the learning curves that examples/train_fashion_mnist writes:
#   scripts/plot.sh fashion_mnist.csv [out.svg]
# Needs gnuplot (apt-get install gnuplot-nox); says so and stops without it.
set -eu
csv=${1:-fashion_mnist.csv}
svg=${2:-${csv%.csv}.svg}
if ! command -v gnuplot >/dev/null 2>&1; then
  echo "plot.sh: gnuplot is not installed (sudo apt-get install gnuplot-nox); the CSV is $csv" >&2
  exit 1
fi
[ -r "$csv" ] || { echo "plot.sh: cannot read $csv" >&2; exit 1; }
gnuplot <<GP
set datafile separator ','
set terminal svg size 900,400 dynamic
set output '$svg'
set multiplot layout 1,2
set xlabel 'epoch'
set key bottom right
set title 'training loss'
plot for [m in 'eager hybridized'] '< grep "^'.m.'," $csv' using 3:4 with linespoints title m
set title 'accuracy'
set yrange [0.5:1]
plot for [m in 'eager hybridized'] '< grep "^'.m.'," $csv' using 3:5 with linespoints title m.' train', \
     for [m in 'eager hybridized'] '< grep "^'.m.'," $csv' using 3:6 with linespoints dashtype 2 title m.' test'
unset multiplot
GP
echo "plot.sh: wrote $svg"
