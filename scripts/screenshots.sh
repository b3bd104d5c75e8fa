#!/usr/bin/env bash
# The README's pictures from a real run's report folder: the HTML report's first screen (headless
# Chromium, Debian's `chromium` package) and the conflict-matrix heatmap the run wrote.
#   pytest benchmarks/ --crossrisk-report /tmp/run && bash scripts/screenshots.sh /tmp/run
set -euo pipefail
report="${1:?usage: scripts/screenshots.sh REPORT_DIR}"
out="$(dirname "$0")/../docs/images"
mkdir -p "$out"
chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update \
    --no-first-run --user-data-dir="$(mktemp -d)" --window-size=1280,900 --hide-scrollbars \
    --screenshot="$out/report-first-screen.png" "file://$(realpath "$report")/report.html"
cp "$report/conflict-matrix.png" "$out/conflict-matrix.png"
echo "wrote $out/report-first-screen.png and $out/conflict-matrix.png"
