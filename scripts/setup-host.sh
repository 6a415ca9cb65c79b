#!/usr/bin/env bash
# Installs the Debian 12 packages this project needs on the host:
#   debootstrap                  builds the Asterisk sandbox (scripts/sandbox.sh)
#   mariadb-server-core, mariadb-client   the private test database (scripts/mariadb.sh)
#   slapd, ldap-utils            the private test directory (scripts/slapd.sh)
#   postgresql, postgresql-client  the private PostgreSQL (scripts/postgres.sh)
#   clang-14, libclang1-14, libclang-common-14-dev   bindgen (build.rs)
#   gcc, libc6-dev, pkg-config   the C shim and linking
#   curl, ca-certificates        fetching, talking to the stand-in
#   python3-venv                 zig + cargo-zigbuild from PyPI, for the glibc floor (build-release.sh)
# Nothing is done (no apt at all) when everything is installed already.
#
# The host's services are left as they were found. scripts/mariadb.sh runs
# its own mariadbd (own data dir, socket and port), so only the server's
# program is installed (mariadb-server-core), not mariadb-server, whose
# install enables and starts the system's MariaDB service. The install is
# kept from starting any service, and a unit it enabled anyway is disabled
# again. A MariaDB service the machine already runs is left alone: it does
# not get in our way.
# slapd and postgresql come with system services too; scripts/slapd.sh and
# postgres.sh run their own servers (own data dirs and ports on 127.0.0.1).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

packages=(
    debootstrap
    mariadb-server-core mariadb-client
    slapd ldap-utils
    postgresql postgresql-client
    libclang1-14 libclang-common-14-dev clang-14
    pkg-config gcc libc6-dev
    curl ca-certificates
    # a private Python for zig and cargo-zigbuild (scripts/lib.sh ensure_zig_tools)
    python3-venv
    # the https test: a TLS front for the OTRS stand-in, and its certificate
    socat openssl
)

[ "$(id -u)" = 0 ] || die "$0 needs root (apt-get install)"

# The account mariadbd runs as. mariadb-server's install would create it;
# mariadb-server-core has no scripts. Created as that package does, so a
# later install of mariadb-server finds it fine.
ensure_mysql_user() {
    id mysql >/dev/null 2>&1 && return 0
    say "creating the system user mysql (mariadbd runs as it)"
    getent group mysql >/dev/null || groupadd --system mysql
    useradd --system --gid mysql --home-dir /nonexistent --no-create-home \
        --shell /bin/false --comment "MySQL Server" mysql
}

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
    ensure_mysql_user
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

# Units enabled now, to disable what the install enables (none of the
# packages above should; this catches a dependency that does). systemctl
# --root works without a running systemd (containers, chroots).
enabled_units() {
    command -v systemctl >/dev/null || return 0
    systemctl --root=/ list-unit-files --state=enabled --no-legend 2>/dev/null | awk '{ print $1 }' | sort
}
# SysV boot links (start at boot): a system without systemd uses those.
sysv_starts() {
    ls /etc/rc[2-5].d 2>/dev/null | sed -n 's/^S[0-9][0-9]//p' | sort -u
}
units_before=$(enabled_units)
sysv_before=$(sysv_starts)

export DEBIAN_FRONTEND=noninteractive
apt-get update -q || die "apt-get update failed"
# No recommends: they add a lot and nothing we use (libc6-dev, which gcc only
# recommends, is in the list).
apt-get install -y -q --no-install-recommends "${missing[@]}" \
    || die "apt-get install ${missing[*]} failed"

mapfile -t still < <(not_installed)
[ ${#still[@]} -eq 0 ] || die "still not installed after apt-get: ${still[*]}"

for unit in $(comm -13 <(echo "$units_before") <(enabled_units)); do
    say "disabling $unit again: the install enabled it, the project does not use it"
    systemctl --root=/ --quiet disable "$unit" || die "systemctl disable $unit failed"
done
for script in $(comm -13 <(echo "$sysv_before") <(sysv_starts)); do
    say "disabling /etc/init.d/$script at boot again: the install enabled it, the project does not use it"
    update-rc.d "$script" disable >/dev/null 2>&1 || die "update-rc.d $script disable failed"
done
ensure_mysql_user
say "host packages installed"
