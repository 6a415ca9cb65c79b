#!/usr/bin/env bash
# Installs the Debian 12 packages this project needs on the host:
#   debootstrap                  builds the Asterisk sandbox (scripts/sandbox.sh)
#   mariadb-server/-client       the private test database (scripts/mariadb.sh)
#   slapd, ldap-utils            the private test directory (scripts/slapd.sh)
#   postgresql, postgresql-client  the private PostgreSQL (scripts/postgres.sh)
#   clang-14, libclang1-14, libclang-common-14-dev   bindgen (build.rs)
#   gcc, libc6-dev, pkg-config   the C shim and linking
#   curl, ca-certificates        fetching, talking to the stand-in
# Nothing is done (no apt at all) when everything is installed already.
#
# The mariadb-server, slapd and postgresql packages come with system
# services; the project never uses them (scripts/mariadb.sh, slapd.sh and
# postgres.sh run their own servers: own data dirs, sockets and ports on
# 127.0.0.1). So the install is kept from starting them (policy-rc.d below),
# and services that already run are left alone: they do not get in our way.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

packages=(
    debootstrap
    mariadb-server mariadb-client
    slapd ldap-utils
    postgresql postgresql-client
    libclang1-14 libclang-common-14-dev clang-14
    pkg-config gcc libc6-dev
    curl ca-certificates
    # the https test: a TLS front for the OTRS stand-in, and its certificate
    socat openssl
)

[ "$(id -u)" = 0 ] || die "$0 needs root (apt-get install)"

# The packages of the list that are not fully installed. One dpkg-query for
# all of them (it names the unknown ones on stderr, and exits 1 then).
not_installed() {
    local status
    status=$(dpkg-query -W -f='${Package} ${Status}\n' "${packages[@]}" 2>/dev/null || true)
    for p in "${packages[@]}"; do
        grep -qx "$p install ok installed" <<<"$status" || echo "$p"
    done
}

mapfile -t missing < <(not_installed)
if [ ${#missing[@]} -eq 0 ]; then
    say "host packages already installed"
    exit 0
fi

say "installing: ${missing[*]}"

# Keep the postinst scripts from starting services (mariadb's above all):
# invoke-rc.d and deb-systemd-invoke ask /usr/sbin/policy-rc.d, and 101
# means "forbidden". Only when the machine has no policy of its own.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# temporary, from app_otrsticket scripts/setup-host.sh\nexit 101\n' > "$policy"
    chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -q || die "apt-get update failed"
# No recommends: they add a lot and nothing we use (libc6-dev, which gcc only
# recommends, is in the list).
apt-get install -y -q --no-install-recommends "${missing[@]}" \
    || die "apt-get install ${missing[*]} failed"

mapfile -t still < <(not_installed)
[ ${#still[@]} -eq 0 ] || die "still not installed after apt-get: ${still[*]}"
say "host packages installed"
