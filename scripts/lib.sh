# Shared helpers for the project's scripts. Sourced, not run.

# The Debian mirror this machine already uses, read from its apt sources so no
# host name is written into the project.
debian_mirror() {
    local uri=""
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
    fi
    if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
        uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' /etc/apt/sources.list)
    fi
    if [ -z "$uri" ]; then
        echo "cannot find a Debian mirror in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list" >&2
        return 1
    fi
    # a security mirror is no use for sid
    echo "${uri%/}"
}

# The scripts build the module to load it into Asterisk: without Asterisk's
# headers build.rs must stop with its hint instead of making the inert stub
# that a plain `cargo test` gets.
export OTRS_REQUIRE_ASTERISK=1

# The script's usage: its header lines "#   scripts/..." up to the next "#".
usage() {
    sed -n '/^#   scripts/,/^#$/p' "$0" | sed -e 's/^#   //' -e '/^#$/d' >&2
    exit 2
}
say() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Seconds since $1 (an $EPOCHREALTIME), two decimals.
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'; }

# Whether pid $2 is a live process named $1 (a zombie waiting to be reaped
# by pid 1 counts as gone).
proc_alive() {
    local stat state
    stat=$(cat "/proc/$2/stat" 2>/dev/null) || return 1
    [[ "$stat" == *"($1) "* ]] || return 1
    state=${stat##*) }
    state=${state%% *}
    [ "$state" != Z ] && [ "$state" != X ]
}

# The pid in pid file $1 if it is a live process named $2; else fails.
pid_from_file() {
    local pid
    [ -f "$1" ] || return 1
    pid=$(cat "$1" 2>/dev/null) || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    proc_alive "$2" "$pid" || return 1
    echo "$pid"
}

# Waits up to $3 tenths of a second for process $2 (named $1) to end;
# fails if it is still there.
wait_exit() {
    local n=0
    while proc_alive "$1" "$2"; do
        [ $n -lt "$3" ] || return 1
        sleep 0.1
        n=$((n + 1))
    done
}

# The oldest glibc the module is built for (scripts/build-release.sh): 2.17
# is CentOS 7 / SNG7 (FreePBX 16); every later Debian, Ubuntu, RHEL has more.
GLIBC_FLOOR=2.17
ZIG_TOOLS="${OTRS_ZIG_TOOLS:-/var/lib/app_otrsticket/zig-tools}"

# zig (PyPI: ziglang) and cargo-zigbuild, pinned, in a venv of their own
# under /var/lib/app_otrsticket (kept between runs); puts them on PATH.
ensure_zig_tools() {
    local zig_version=0.17.1 zigbuild_version=0.24.1
    if [ ! -x "$ZIG_TOOLS/bin/cargo-zigbuild" ] || ! "$ZIG_TOOLS/bin/python" -m ziglang version 2>/dev/null | grep -qx "$zig_version"; then
        say "installing zig $zig_version and cargo-zigbuild $zigbuild_version (PyPI) into $ZIG_TOOLS"
        /usr/bin/python3 -m venv "$ZIG_TOOLS" || die "python3 -m venv failed: apt-get install python3-venv (scripts/setup-host.sh)"
        "$ZIG_TOOLS/bin/pip" install -q "ziglang==$zig_version" "cargo-zigbuild==$zigbuild_version" \
            || die "pip install ziglang cargo-zigbuild failed"
    fi
    export PATH="$ZIG_TOOLS/bin:$PATH"
}

# The symbol versions of glibc above GLIBC_FLOOR that FILE needs (none: OK).
glibc_above_floor() {
    objdump -T "$1" | grep -o 'GLIBC_[0-9][0-9.]*' | sort -u | sed 's/^GLIBC_//' \
        | awk -v floor="$GLIBC_FLOOR" '{ split($0, a, "."); split(floor, b, ".");
              if (a[1] + 0 > b[1] + 0 || (a[1] + 0 == b[1] + 0 && a[2] + 0 > b[2] + 0)) print "GLIBC_" $0 }'
}

# A test CA and a server certificate for 127.0.0.1 signed by it, made once
# into DIR: DIR/ca.pem, DIR/server.key and DIR/CERT (the name the server's
# config expects), owned by OWNER, the keys with MODE.
#   make_test_tls DIR "LDAP" server.pem openldap 640
make_test_tls() {
    local dir=$1 what=$2 cert=$3 owner=$4 mode=$5
    [ -f "$dir/$cert" ] && [ -f "$dir/ca.pem" ] && return 0
    mkdir -p "$dir"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=app_otrsticket test $what CA" \
        -keyout "$dir/ca.key" -out "$dir/ca.pem" >/dev/null 2>&1 || die "openssl: cannot make the test CA"
    openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
        -keyout "$dir/server.key" -out "$dir/server.csr" >/dev/null 2>&1 || die "openssl: cannot make the server key"
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$dir/ext.cnf"
    openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.pem" -CAkey "$dir/ca.key" -CAcreateserial \
        -days 3650 -extfile "$dir/ext.cnf" -out "$dir/$cert" >/dev/null 2>&1 || die "openssl: cannot sign the server certificate"
    chown -R "$owner:$owner" "$dir"
    chmod "$mode" "$dir/server.key" "$dir/ca.key"
}

# Starts a server in the background, off the caller's process group and
# terminal (setsid), stdin from /dev/null, stdout and stderr appended to
# LOG, and no other descriptor: one it inherited would stay open as long as
# it runs, e.g. the flock(1) lock the tests are run under, which everyone
# waiting for it would then wait for until the server stops. SPAWNED_PID is
# the background process (setsid, then the server itself).
#   spawn_server LOG COMMAND...
spawn_server() {
    local log=$1
    shift
    (
        for fd in /proc/self/fd/*; do
            fd=${fd##*/}
            if [ "$fd" -gt 2 ] 2>/dev/null; then eval "exec $fd>&-"; fi
        done
        exec setsid "$@" </dev/null >>"$log" 2>&1
    ) &
    SPAWNED_PID=$!
}

# Waits, a tenth of a second at a time, until the calling script's
# `answers` succeeds: dies, after the calling script's SHOW (its log's last
# lines), once STILL_UP (a check that the server has not exited) fails or
# after START_WAIT tenths of a second. WHAT and WHERE name it in the message.
#   wait_answers WHAT WHERE STILL_UP SHOW
wait_answers() {
    local what=$1 where=$2 still_up=$3 show=$4 n=0
    until answers; do
        if ! $still_up; then
            $show
            die "$what exited during startup ($where)"
        fi
        if [ $n -ge "$START_WAIT" ]; then
            $show
            die "$what did not answer within $((START_WAIT / 10)) s ($where)"
        fi
        sleep 0.1
        n=$((n + 1))
    done
}
