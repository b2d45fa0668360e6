#!/usr/bin/env bash
# One entry point for people and CI:
#   ./dev.sh demo     set up, then run `kaohe demo` on the bundled sample inbox
#   ./dev.sh test     set up for development, then run every test (what .ci/run calls)
#   ./dev.sh setup    set up for development only (test tools: Dovecot, Chromium, poppler …)
#   ./dev.sh install  production: only what kaohe needs at run time (LibreOffice for
#                     legacy formats, unar/7z), the project without test dependencies
# As root, set-up installs the Debian packages it needs, then creates .venv and
# installs the project into it.
set -euo pipefail
cd "$(dirname "$0")"

APT_RUNTIME=(python3-venv python3-pip)
# Production: read .doc/.xls/.wps/.et (LibreOffice) and rar/7z archives. Never a mail server or a browser.
APT_PRODUCTION=(libreoffice-writer-nogui libreoffice-calc-nogui unar p7zip-full)
APT_TEST=("${APT_PRODUCTION[@]}" dovecot-imapd chromium chromium-driver fonts-noto-cjk poppler-utils openssl)

apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    echo "缺少系统软件包：${missing[*]}" >&2
    echo "请以 root 运行：apt-get install -y ${missing[*]}" >&2
    return 0
  fi
  echo "安装系统软件包：${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

setup() {
  local extra="$1"
  if command -v dpkg >/dev/null; then
    apt_install "${APT_RUNTIME[@]}"
    case "$extra" in
      test) apt_install "${APT_TEST[@]}" ;;
      production) apt_install "${APT_PRODUCTION[@]}" ;;
    esac
  fi
  local py=${PYTHON:-python3}
  [ -x .venv/bin/python ] || "$py" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  if [ "$extra" = test ]; then
    .venv/bin/python -m pip install -q -e '.[test]'
  else
    .venv/bin/python -m pip install -q -e .
  fi
}

case "${1:-}" in
  demo)
    setup runtime
    shift; exec .venv/bin/kaohe demo "$@" ;;
  test)
    setup test
    shift
    .venv/bin/ruff check ingest parsers reports tests bench scripts
    .venv/bin/ruff format --check ingest parsers reports tests bench scripts
    .venv/bin/mypy
    exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@" ;;
  setup)
    setup test ;;
  install)
    setup production
    echo "已安装：$(pwd)/.venv/bin/kaohe（服务配置见 docs/deploy.md）" ;;
  *)
    echo "用法：./dev.sh demo | test | setup | install（生产服务器用 install）" >&2; exit 2 ;;
esac
