#!/usr/bin/env bash
# Installs and starts what the test suite needs outside Python (run by `make test` and `make bench`):
#   - Debian's `prometheus` (prometheus, promtool) and `prometheus-alertmanager`, when missing;
#   - Debian's `chromium` and `chromium-driver` for the sandbox's browser test (plus `fonts-noto-color-emoji`
#     so the README screenshot shows emoji), when missing;
#   - the local PostgreSQL cluster, when installed but not accepting connections on 127.0.0.1.
# Idempotent, and fast when everything is there (no apt-get update then). It never fails the build:
# when something cannot be installed or started it warns loudly, and the tests that need it skip
# with a message saying so.
set -uo pipefail

warn() {
    {
        echo
        echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
        echo "!!! WARNING: $*"
        echo "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
        echo
    } >&2
}

have() { command -v "$1" >/dev/null 2>&1; }

# Run a command as root: directly when we are root, through sudo when it exists, else not at all.
as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif have sudo; then
        sudo "$@"
    else
        echo "not root and no sudo: cannot run: $*" >&2
        return 1
    fi
}

# apt_install WHAT PACKAGE...: install the packages, or warn that WHAT will be skipped.
apt_install() {
    local what="$1"
    shift
    [ "$#" -gt 0 ] || return 0
    if ! have apt-get; then
        warn "missing $* and no apt-get here: install them by hand; $what will be skipped"
        return 0
    fi
    echo "install-test-deps: installing Debian packages: $*"
    if as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq \
        && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
    then
        echo "install-test-deps: installed $*"
    else
        warn "could not install $* (apt-get failed, see above); $what will be skipped"
    fi
}

# --- Prometheus + Alertmanager -------------------------------------------------------------------
packages=()
if ! have prometheus || ! have promtool; then
    packages+=(prometheus)
fi
if ! have prometheus-alertmanager; then
    packages+=(prometheus-alertmanager)
fi

apt_install "the Prometheus and Alertmanager tests" "${packages[@]}"

# --- Chromium for the browser test (tests/test_sandbox.py, marked `browser`) ---------------------------
browser_packages=()
if ! have chromium; then
    browser_packages+=(chromium)
fi
if ! have chromedriver; then
    browser_packages+=(chromium-driver)
fi
if have dpkg-query && ! dpkg-query -W -f='${Status}' fonts-noto-color-emoji 2>/dev/null | grep -q "ok installed"; then
    browser_packages+=(fonts-noto-color-emoji)
fi

apt_install "the browser test" "${browser_packages[@]}"

# --- PostgreSQL ------------------------------------------------------------------------------------
if have pg_isready && ! pg_isready -q -h 127.0.0.1; then
    if have pg_ctlcluster && [ -d /etc/postgresql ] && [ -n "$(ls /etc/postgresql 2>/dev/null)" ]; then
        version="$(ls /etc/postgresql | sort -V | tail -n 1)"
        echo "install-test-deps: PostgreSQL is not accepting connections on 127.0.0.1; starting cluster $version/main"
        if ! as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start; then
            warn "could not start PostgreSQL $version/main; the Postgres tests will be skipped"
        fi
    else
        warn "PostgreSQL is not accepting connections on 127.0.0.1 and pg_ctlcluster is not available; the Postgres tests will be skipped"
    fi
elif ! have pg_isready; then
    echo "install-test-deps: no PostgreSQL client tools here; the Postgres tests will be skipped unless" \
        "INCIDENTBOT_TEST_DATABASE_URL points at a server" >&2
fi

exit 0
