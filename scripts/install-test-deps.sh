#!/usr/bin/env bash
# Install what the browser test suite (tests/browser) needs, beyond the Python
# packages in requirements.txt:
#   - Debian's chromium at /usr/bin/chromium (Playwright launches it through
#     executable_path; never run `playwright install`, its download is not reachable),
#   - a Java runtime for the Nu Html Checker (vnu.jar) and for Spark in local mode
#     (tests/test_spark.py; Spark 4 needs Java 17 or newer: Debian 12's default),
#   - a font so that screenshots have glyphs,
#   - node_modules/ from package-lock.json (axe-core, vnu-jar; lighthouse for `make lighthouse`;
#     vega, vega-interpreter, vega-tooltip and esbuild for scripts/vega-runtime/build.sh), via `npm ci`.
# Idempotent and fast (well under a second) when everything is already present.
# Runs unattended (CI=true, no stdin); apt needs root, as on the CI machines.
set -euo pipefail
cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive

apt_packages=()
[ -x /usr/bin/chromium ] || apt_packages+=(chromium)
command -v java >/dev/null 2>&1 || apt_packages+=(default-jre-headless)
# Screenshots need glyphs (Latin incl. æøå): DejaVu is small and enough.
[ -d /usr/share/fonts/truetype/dejavu ] || apt_packages+=(fonts-dejavu-core)
command -v npm >/dev/null 2>&1 || apt_packages+=(npm)

if [ "${#apt_packages[@]}" -gt 0 ]; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
            echo "install-test-deps: need root (or sudo) to install: ${apt_packages[*]}" >&2
            exit 1
        fi
    fi
    echo "install-test-deps: apt-get install ${apt_packages[*]}"
    $SUDO apt-get update -q -o DPkg::Lock::Timeout=600 >/dev/null
    $SUDO apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 \
        "${apt_packages[@]}" >/dev/null
fi

# npm: reinstall when node_modules is missing or incomplete, or older than
# package.json / package-lock.json (npm ci writes node_modules/.package-lock.json).
need_npm=0
if [ ! -f node_modules/.package-lock.json ] \
   || [ ! -f node_modules/axe-core/axe.min.js ] \
   || [ ! -f node_modules/vnu-jar/build/dist/vnu.jar ] \
   || [ ! -x node_modules/.bin/lighthouse ] \
   || [ package-lock.json -nt node_modules/.package-lock.json ] \
   || [ package.json -nt node_modules/.package-lock.json ]; then
    need_npm=1
fi
if [ "$need_npm" -eq 1 ]; then
    echo "install-test-deps: npm ci"
    # --ignore-scripts: vnu-jar's postinstall would try to download a JDK from
    # GitHub when no system Java is found; we use Debian's Java instead.
    npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
    # npm ci keeps the lockfile's mtime; mark the install as fresh.
    touch node_modules/.package-lock.json
fi

# Final sanity check: fail here, with a clear message, rather than inside pytest.
for f in /usr/bin/chromium node_modules/axe-core/axe.min.js node_modules/vnu-jar/build/dist/vnu.jar; do
    [ -e "$f" ] || { echo "install-test-deps: $f still missing" >&2; exit 1; }
done
command -v java >/dev/null 2>&1 || { echo "install-test-deps: java still missing" >&2; exit 1; }
