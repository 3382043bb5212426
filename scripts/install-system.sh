#!/usr/bin/env bash
# Debian packages kycguard uses: tesseract (document OCR fallback), the OCR-B font (test documents),
# Chromium (browser tests). Installed only when missing and when we may (root with apt-get);
# otherwise the features that need them say so and their tests skip (laptops) or fail (CI).
set -euo pipefail
PKGS=(tesseract-ocr fonts-ocr-b)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian packages: ${missing[*]}"
  apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "note: Debian packages missing (${missing[*]}); run as root or install them to enable every feature" >&2
fi
