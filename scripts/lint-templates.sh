#!/usr/bin/env bash
# Synthesizes every stage named in cdk.json into cdk.out/<stage>/ and lints the templates with cfn-lint
# (.cfnlintrc.yaml: templates, regions, and each ignored rule with its reason). Offline: cfn-lint bundles its schemas.
set -euo pipefail
cd "$(dirname "$0")/.."

# The machine image ships cfn-lint 1.51 with pyenv's Python (pip), whose shims a non-login shell may not have on PATH;
# Debian has no cfn-lint package. Elsewhere: pip install 'cfn-lint==1.51.*'.
cfn_lint=""
for candidate in cfn-lint "${PYENV_ROOT:-$HOME/.pyenv}/shims/cfn-lint" "$HOME/.local/bin/cfn-lint"; do
  if command -v "$candidate" >/dev/null 2>&1; then cfn_lint=$candidate; break; fi
done
if [ -z "$cfn_lint" ]; then
  echo "lint-templates: cfn-lint not found (pip install 'cfn-lint==1.51.*')" >&2
  exit 1
fi
"$cfn_lint" --version

stages=$(node -e 'console.log(Object.keys(require("./cdk.json").context.stages ?? { dev: {} }).join(" "))')
for stage in $stages; do
  rm -rf "cdk.out/$stage"
  echo "synth $stage -> cdk.out/$stage"
  npm run --silent synth -- -c "stage=$stage" -o "cdk.out/$stage"
done

# Exit code: 0 clean, else a bit mask (2 errors, 4 warnings, 8 informational): anything reported fails.
"$cfn_lint"
echo "cfn-lint: no findings in $(ls cdk.out/*/*.template.json | wc -l) templates ($stages)"
