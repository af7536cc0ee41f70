#!/bin/sh
# Rebuilds templates/assets/vega.js, the Vega runtime the site ships (self-hosted, no CDN), from
# the exact versions pinned in package-lock.json. The build itself never needs npm: the output
# is committed. Reproducible: the same lock file gives the same bytes.
set -eu
cd "$(dirname "$0")/../.."
npm ci --ignore-scripts --no-audit --no-fund >/dev/null
npx esbuild scripts/vega-runtime/entry.js --bundle --minify --format=iife --global-name=vega \
  --target=es2020 --legal-comments=none --charset=utf8 --outfile=templates/assets/vega.js
wc -c templates/assets/vega.js
