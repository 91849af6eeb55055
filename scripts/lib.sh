# Shared by the scripts: dependency installation and build helpers. Source it; do not run it.

# Installs those of the given Debian packages that are missing.
ripple_apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "==> installing ${missing[*]}"
        local sudo=""
        [ "$(id -u)" -ne 0 ] && sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
    fi
}

# Installs the Debian packages Ripple builds against, if any is missing.
ripple_install_system_deps() {
    ripple_apt_install libsqlite3-dev liblz4-dev pkg-config python3-venv
    command -v swift >/dev/null || { echo "swift is not on PATH (Swift 6.x toolchain required)" >&2; exit 1; }
}

# The headless browser the dashboard tests drive (Tests/dashboard, Tests/cluster/test_dashboard.py).
ripple_install_browser_deps() {
    ripple_apt_install chromium chromium-driver
}

# etcd, the coordinator of writer failover (scripts/cluster start --failover, Tests/failover).
ripple_install_etcd() {
    ripple_apt_install etcd-server
}
