#!/usr/bin/env bash
# The one test command (README, `npm test`, .ci/run): install what is missing, build, lint, then run
# every vitest project (unit and end-to-end) and print vitest's summary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npm run --silent lint
npx vitest run "$@"
