#!/bin/sh
# Rebuilds templates/assets/vega.js, the Vega runtime the site ships (self-hosted, no CDN), from
# the exact versions pinned in package-lock.json, and its Brotli copy vega.js.br (statpress's own
# compression, from the virtual environment: compressing it at Brotli's best quality takes a
# second, which every project's first build would otherwise spend). The build itself never needs
# npm: the output is committed. Reproducible: the same lock file gives the same bytes.
set -eu
cd "$(dirname "$0")/../.."
npm ci --ignore-scripts --no-audit --no-fund >/dev/null
npx esbuild scripts/vega-runtime/entry.js --bundle --minify --format=iife --global-name=vega \
  --target=es2020 --legal-comments=none --charset=utf8 --outfile=templates/assets/vega.js
.venv/bin/python -c 'from pathlib import Path; from statpress import compress
p = Path("templates/assets/vega.js"); p.with_name("vega.js.br").write_bytes(compress.brotli_assets(p.read_bytes()))'
wc -c templates/assets/vega.js templates/assets/vega.js.br
