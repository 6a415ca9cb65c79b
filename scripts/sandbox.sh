#!/usr/bin/env bash
# A real Asterisk in a debootstrap chroot, to load app_otrsticket.so into and
# call OTRSTicket() from the dialplan: Debian sid's package (Asterisk 22) by
# default, or with OTRS_SANDBOX_SERIES=16 Debian 11 bullseye's (Asterisk
# 16.28, glibc 2.31: the old end of what the module supports). Debian 12 has
# no asterisk package. See shared/notes/asterisk-sandbox.md for the facts
# this relies on.
#
#   scripts/sandbox.sh build                 debootstrap sid + apt-get install asterisk (once)
#   scripts/sandbox.sh start | stop | restart | kill | status
#   scripts/sandbox.sh cli CMD...            asterisk -rx "CMD..." inside the chroot
#   scripts/sandbox.sh install-module PATH   put a built .so in as app_otrsticket.so (and docs/*.xml)
#   scripts/sandbox.sh log [N]               last N (50) lines of the `full` log
#
# Environment:
#   OTRS_SANDBOX_SERIES    22 (default: sid) or 16 (bullseye)
#   OTRS_SANDBOX           chroot root (default /var/lib/app_otrsticket/sandbox,
#                          or .../sandbox16 for series 16)
#   OTRS_SANDBOX_CONF_DIR  every file in it is copied over ROOT/etc/asterisk at
#                          `start`, after the base config from tests/sandbox/
#
# /tmp inside the chroot is ROOT/tmp on the host; the `full` log is
# ROOT/var/log/asterisk/full.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
. "$here/lib.sh"

SERIES="${OTRS_SANDBOX_SERIES:-22}"
# PACKAGES: what the tests use. Bullseye ships VoiceMail() in a package of
# its own (a Recommends, so not pulled in); sid has it in asterisk-modules.
case "$SERIES" in
    22) SUITE=sid; DEFAULT_ROOT=/var/lib/app_otrsticket/sandbox; PACKAGES=(asterisk) ;;
    16) SUITE=bullseye; DEFAULT_ROOT=/var/lib/app_otrsticket/sandbox16; PACKAGES=(asterisk asterisk-voicemail) ;;
    *) die "OTRS_SANDBOX_SERIES must be 22 (Debian sid) or 16 (Debian bullseye), got '$SERIES'" ;;
esac
ROOT="${OTRS_SANDBOX:-$DEFAULT_ROOT}"
ROOT="${ROOT%/}"
TEMPLATES="$top/tests/sandbox"
MARKER="$ROOT/.app_otrsticket-built"
ETC="$ROOT/etc/asterisk"
PIDFILE="$ROOT/run/asterisk/asterisk.pid"
FULL_LOG="$ROOT/var/log/asterisk/full"
START_OUT="$ROOT/var/log/asterisk/start.out"
MODULE_NAME=app_otrsticket.so
# The bounded waits, in tenths of a second.
BOOT_WAIT=${OTRS_SANDBOX_BOOT_WAIT:-300}
STOP_WAIT=${OTRS_SANDBOX_STOP_WAIT:-300}

usage() {
    sed -n '/^#   scripts/p' "$0" | sed 's/^#   //' >&2
    exit 2
}

need_root() { [ "$(id -u)" = 0 ] || die "$0 needs root (it uses chroot)"; }

# Never let a typo in OTRS_SANDBOX point rm -rf or chroot at the host itself.
check_root_path() {
    case "$ROOT" in
        /*) ;;
        *) die "OTRS_SANDBOX must be an absolute path, got '$ROOT'" ;;
    esac
    [ "$ROOT" != "" ] && [ "$ROOT" != "/" ] || die "OTRS_SANDBOX must not be /"
}

is_built() { [ -f "$MARKER" ] && [ -x "$ROOT/usr/sbin/asterisk" ]; }
# Every package of PACKAGES installed (a sandbox cached by an older version
# of this script may lack one added since).
has_packages() {
    local p
    for p in "${PACKAGES[@]}"; do
        in_chroot dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || return 1
    done
}
need_built() { is_built || die "no sandbox at $ROOT: run '$0 build' first"; }

# Run a command in the chroot with a clean environment: the host's locale,
# LD_* or proxy settings mean nothing there. RUST_* passes through so a
# backtrace can be asked for from the module.
in_chroot() {
    local -a keep=()
    local v
    for v in $(compgen -e); do
        case "$v" in RUST_*|TZ) keep+=("$v=${!v}") ;; esac
    done
    env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
        DEBIAN_FRONTEND=noninteractive "${keep[@]}" chroot "$ROOT" "$@"
}

# The module directory of the chroot's Asterisk (arch dependent).
moddir_in_chroot() {
    local d
    for d in "$ROOT"/usr/lib/*/asterisk/modules "$ROOT"/usr/lib/asterisk/modules; do
        if [ -f "$d/pbx_config.so" ]; then echo "${d#"$ROOT"}"; return 0; fi
    done
    die "cannot find Asterisk's module directory (pbx_config.so) under $ROOT/usr/lib"
}

# --- build -------------------------------------------------------------------

cmd_build() {
    need_root
    check_root_path
    if is_built && has_packages; then
        say "sandbox already built at $ROOT ($(cat "$MARKER"))"
        # Refresh the config from the templates, but not under a running
        # Asterisk (it would drop a test's overlay); start rewrites it anyway.
        running_pid >/dev/null || write_config
        return 0
    fi
    command -v debootstrap >/dev/null || die "debootstrap is not installed: run scripts/setup-host.sh"
    local mirror t0=$SECONDS
    mirror=$(debian_mirror)

    # debootstrap leaves ROOT/debootstrap/ behind while it is unfinished; it
    # cannot resume, so an interrupted run starts again from nothing. A root
    # with a finished base system (apt-get present) is kept: only the apt
    # steps below are repeated.
    # Anything else already at ROOT is not ours to delete.
    if [ -d "$ROOT/debootstrap" ]; then
        say "removing the unfinished chroot at $ROOT"
        rm -rf --one-file-system "$ROOT"
    elif [ -e "$ROOT" ] && [ ! -x "$ROOT/usr/bin/apt-get" ] && [ -n "$(ls -A "$ROOT" 2>/dev/null)" ]; then
        die "$ROOT exists and is not a (partial) sandbox; remove it or set OTRS_SANDBOX"
    fi
    if [ ! -x "$ROOT/usr/bin/apt-get" ]; then
        say "debootstrap --variant=minbase $SUITE into $ROOT (about a minute)"
        mkdir -p "$(dirname "$ROOT")"
        local dblog
        dblog=$(mktemp)
        if ! debootstrap --variant=minbase "$SUITE" "$ROOT" "$mirror" >"$dblog" 2>&1; then
            tail -n 30 "$dblog" >&2
            [ -f "$ROOT/debootstrap/debootstrap.log" ] && tail -n 30 "$ROOT/debootstrap/debootstrap.log" >&2
            rm -f "$dblog"
            die "debootstrap failed (output above)"
        fi
        rm -f "$dblog"
    fi

    # The mirror's index (sid's, an archived suite's) may carry a Valid-Until in the past; apt in the
    # chroot would then call it expired and refuse it.
    echo 'Acquire::Check-Valid-Until "false";' > "$ROOT/etc/apt/apt.conf.d/99app-otrsticket-no-valid-until"
    # asterisk's postinst would start the service; 101 = "action forbidden".
    printf '#!/bin/sh\n# app_otrsticket sandbox: never start services on install\nexit 101\n' > "$ROOT/usr/sbin/policy-rc.d"
    chmod 755 "$ROOT/usr/sbin/policy-rc.d"

    say "apt-get install ${PACKAGES[*]} in the chroot"
    local aptlog
    aptlog=$(mktemp)
    # dpkg --configure -a finishes what an interrupted earlier run left
    # half-installed (apt-get refuses to go on otherwise); a no-op normally.
    if ! { in_chroot dpkg --configure -a && in_chroot apt-get -q update \
            && in_chroot apt-get -q install -y --no-install-recommends "${PACKAGES[@]}"; } >"$aptlog" 2>&1; then
        tail -n 40 "$aptlog" >&2
        rm -f "$aptlog"
        die "apt-get in the chroot failed (output above)"
    fi
    rm -f "$aptlog"
    in_chroot apt-get clean
    [ -x "$ROOT/usr/sbin/asterisk" ] || die "apt-get reported success but $ROOT/usr/sbin/asterisk is missing"

    in_chroot dpkg-query -W -f='asterisk ${Version}\n' asterisk > "$MARKER"
    write_config
    say "sandbox built in $((SECONDS - t0)) s: $(cat "$MARKER"), $(du -sh --one-file-system "$ROOT" | cut -f1)"
}

# --- configuration -----------------------------------------------------------

# Replace ROOT/etc/asterisk with the minimal set from tests/sandbox/ (then
# OTRS_SANDBOX_CONF_DIR on top, when set). Rewritten at every start, so a
# test's overlay never leaks into the next start. The package's own config
# is kept once in ROOT/etc/asterisk.dist for reference (and indications.conf).
write_config() {
    [ -d "$TEMPLATES" ] || die "config templates missing: $TEMPLATES"
    if [ ! -d "$ROOT/etc/asterisk.dist" ]; then
        [ -d "$ETC" ] || die "$ETC missing: the asterisk package did not install its config?"
        mv "$ETC" "$ROOT/etc/asterisk.dist"
    fi
    local moddir f
    moddir=$(moddir_in_chroot)
    rm -rf "$ETC"
    mkdir -p "$ETC"
    for f in "$TEMPLATES"/*.conf; do
        sed -e "s#@ASTMODDIR@#$moddir#g" "$f" > "$ETC/$(basename "$f")"
    done
    # Tone tables: the package's own file, nothing to choose there.
    cp "$ROOT/etc/asterisk.dist/indications.conf" "$ETC/indications.conf"
    if [ -n "${OTRS_SANDBOX_CONF_DIR:-}" ]; then
        [ -d "$OTRS_SANDBOX_CONF_DIR" ] || die "OTRS_SANDBOX_CONF_DIR=$OTRS_SANDBOX_CONF_DIR is not a directory"
        for f in "$OTRS_SANDBOX_CONF_DIR"/*; do
            [ -f "$f" ] || continue
            cp "$f" "$ETC/$(basename "$f")"
        done
    fi
    # Asterisk reads its config after dropping to the asterisk user; otrs.conf
    # holds passwords, so group-readable only.
    in_chroot chown -R root:asterisk /etc/asterisk
    chmod 750 "$ETC"
    chmod 640 "$ETC"/*
}

# --- process control ---------------------------------------------------------

# True while PID is a live asterisk process. The chroot shares the host's pid
# namespace; the name guards against a reused pid. A zombie counts as gone:
# the daemonised Asterisk's parent is pid 1, which may take a second or more
# to reap it.
asterisk_alive() {
    local stat state
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    [[ "$stat" == *"(asterisk) "* ]] || return 1
    state=${stat##*) }
    state=${state%% *}
    [ "$state" != Z ] && [ "$state" != X ]
}

# Every live asterisk process chrooted into ROOT, whatever the pid file says
# (one left over by an interrupted start, say).
sandbox_pids() {
    local pid candidates
    # pgrep narrows it down quickly; without procps every process is looked at.
    if command -v pgrep >/dev/null; then
        candidates=$(pgrep -x asterisk || true)
    else
        candidates=$(cd /proc && echo [0-9]*)
    fi
    [ -d "$ROOT" ] || return 0
    # Same directory = same device and inode (a path compare is fooled when
    # this script itself runs in a chroot).
    local want
    want=$(stat -L -c %d:%i "$ROOT")
    for pid in $candidates; do
        [ "$(stat -L -c %d:%i "/proc/$pid/root" 2>/dev/null)" = "$want" ] || continue
        asterisk_alive "$pid" && echo "$pid"
    done
    return 0
}

# The pid of the running Asterisk, or nothing.
running_pid() {
    local pid
    [ -f "$PIDFILE" ] || return 1
    pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    asterisk_alive "$pid" || return 1
    echo "$pid"
}

# asterisk -rx exits 1 only when it cannot connect; a failed command still
# exits 0, so callers parse the output.
rx() { in_chroot /usr/sbin/asterisk -rx "$*"; }

wait_gone() {
    local pid=$1 n=0
    while asterisk_alive "$pid"; do
        [ $n -lt "$STOP_WAIT" ] || return 1
        sleep 0.1
        n=$((n + 1))
    done
}

cmd_start() {
    need_root
    check_root_path
    need_built
    local pid
    if pid=$(running_pid); then
        say "Asterisk already running (pid $pid); config not rewritten (use restart)"
        return 0
    fi
    local strays
    strays=$(sandbox_pids)
    [ -z "$strays" ] || die "Asterisk processes in $ROOT not named by $PIDFILE: ${strays//$'\n'/ }; '$0 kill' ends them"
    write_config
    # No systemd-tmpfiles in the chroot: the run dir is made by hand.
    mkdir -p "$ROOT/run/asterisk"
    in_chroot chown asterisk:asterisk /run/asterisk
    rm -f "$ROOT/run/asterisk/asterisk.ctl" "$PIDFILE"
    mkdir -p "$ROOT/var/log/asterisk"
    local t0=$EPOCHREALTIME n=0 out
    # It forks into the background (daemon(3): own session) and returns;
    # what it says before that (bad asterisk.conf, ...) goes to start.out.
    in_chroot /usr/sbin/asterisk -U asterisk -G asterisk </dev/null >"$START_OUT" 2>&1 \
        || { cat "$START_OUT" >&2; die "asterisk did not start (output above)"; }
    # The control socket appears after the fork; waitfullybooted fails at once
    # (instead of waiting) until it does, so retry it.
    until out=$(rx 'core waitfullybooted' 2>&1) && [[ "$out" == *"fully booted"* ]]; do
        if [ $n -ge "$BOOT_WAIT" ]; then
            say "last answer: $out"
            show_start_failure
            die "Asterisk did not finish booting within $((BOOT_WAIT / 10)) s"
        fi
        # A process that is gone will not come back: fail fast.
        if [ $n -ge 20 ] && ! running_pid >/dev/null; then
            show_start_failure
            die "Asterisk exited during startup"
        fi
        sleep 0.1
        n=$((n + 1))
    done
    pid=$(running_pid) || die "Asterisk booted but $PIDFILE names no asterisk process"
    say "Asterisk running (pid $pid), booted in $(elapsed "$t0") s"
    if [ ! -f "$ROOT$(moddir_in_chroot)/$MODULE_NAME" ]; then
        say "note: $MODULE_NAME is not installed yet: '$0 install-module target/release/libapp_otrsticket.so'"
    fi
}

show_start_failure() {
    [ -s "$START_OUT" ] && { say "$START_OUT:"; tail -n 20 "$START_OUT" >&2; }
    [ -f "$FULL_LOG" ] && { say "$FULL_LOG (last lines):"; tail -n 30 "$FULL_LOG" >&2; }
    return 0
}

cmd_stop() {
    need_root
    local pid
    if ! pid=$(running_pid); then
        [ -z "$(sandbox_pids)" ] || die "no pid file, but Asterisk processes run in $ROOT: '$0 kill'"
        say "Asterisk is not running"
        return 0
    fi
    local t0=$SECONDS
    rx 'core stop now' >/dev/null 2>&1 || true
    # `core stop now` returns before the process has exited, and a new start
    # before then would find the old control socket going away under it.
    wait_gone "$pid" || die "Asterisk (pid $pid) still running $((STOP_WAIT / 10)) s after 'core stop now'; try '$0 kill'"
    say "Asterisk stopped (pid $pid, $((SECONDS - t0)) s)"
}

# SIGKILL every Asterisk of the sandbox: the one in the pid file and any
# stray one.
cmd_kill() {
    need_root
    local pids pid
    pids=$(sandbox_pids)
    if [ -z "$pids" ]; then
        say "Asterisk is not running"
        return 0
    fi
    # shellcheck disable=SC2086
    kill -KILL $pids
    for pid in $pids; do
        wait_gone "$pid" || die "pid $pid survived SIGKILL?"
    done
    rm -f "$ROOT/run/asterisk/asterisk.ctl" "$PIDFILE"
    say "Asterisk killed (pid ${pids//$'\n'/ })"
}

cmd_status() {
    need_root
    local pid
    if ! is_built; then
        echo "not built ($ROOT)"
        return 3
    fi
    if pid=$(running_pid) && rx 'core show uptime' >/dev/null 2>&1; then
        echo "running (pid $pid), $(cat "$MARKER"), root $ROOT, log $FULL_LOG"
        return 0
    fi
    local strays
    strays=$(sandbox_pids)
    if [ -n "$strays" ]; then
        echo "not answering, but Asterisk processes run in $ROOT: ${strays//$'\n'/ } ('$0 kill' ends them)"
    else
        echo "stopped, $(cat "$MARKER"), root $ROOT"
    fi
    return 3
}

cmd_cli() {
    need_root
    [ $# -gt 0 ] || die "usage: $0 cli CMD..."
    running_pid >/dev/null || die "Asterisk is not running: '$0 start' first"
    rx "$*"
}

# Put a built module in as app_otrsticket.so. A loaded .so is never
# overwritten in place (the running code is mapped from it): unload, copy,
# load. The copy goes through a temporary name and a rename.
cmd_install_module() {
    need_root
    need_built
    [ $# -eq 1 ] || die "usage: $0 install-module PATH/TO/module.so"
    local src=$1 moddir dest out pid loaded=no
    [ -f "$src" ] || die "no such file: $src"
    [ "$(head -c 4 "$src" | od -An -c | tr -d ' ')" = '177ELF' ] || die "$src is not an ELF file"
    moddir=$(moddir_in_chroot)
    dest="$ROOT$moddir/$MODULE_NAME"
    if pid=$(running_pid); then
        out=$(rx "module show like ${MODULE_NAME%.so}")
        if grep -q "^$MODULE_NAME" <<<"$out"; then
            loaded=yes
            out=$(rx "module unload $MODULE_NAME")
            grep -q "Unloaded $MODULE_NAME" <<<"$out" || die "could not unload $MODULE_NAME: $out"
        fi
    fi
    cp "$src" "$dest.new"
    chmod 644 "$dest.new"
    mv -f "$dest.new" "$dest"
    # Its XML documentation: read when Asterisk starts (not at module load).
    install -D -m 644 "$top/docs/app_otrsticket-en_US.xml" "$ROOT/usr/share/asterisk/documentation/thirdparty/app_otrsticket-en_US.xml"
    say "installed $src as $moddir/$MODULE_NAME"
    if [ -n "${pid:-}" ]; then
        out=$(rx "module load $MODULE_NAME")
        # "Unable to load" is printed with exit status 0: parse it.
        if ! grep -q "Loaded $MODULE_NAME" <<<"$out"; then
            # The reason (undefined symbol, did not register, ...) is only in the log.
            tail -n 20 "$FULL_LOG" 2>/dev/null | grep -i "${MODULE_NAME%.so}" >&2 || true
            die "module load $MODULE_NAME failed: $out"
        fi
        say "$( [ $loaded = yes ] && echo re)loaded $MODULE_NAME in the running Asterisk"
    fi
}

cmd_log() {
    local n=${1:-50}
    [ -f "$FULL_LOG" ] || die "no log yet at $FULL_LOG"
    tail -n "$n" "$FULL_LOG"
}

[ $# -ge 1 ] || usage
cmd=$1
shift
case "$cmd" in
    build) cmd_build ;;
    start) cmd_start ;;
    stop) cmd_stop ;;
    restart) cmd_stop; cmd_start ;;
    kill) cmd_kill ;;
    status) cmd_status ;;
    cli) cmd_cli "$@" ;;
    install-module) cmd_install_module "$@" ;;
    log) cmd_log "$@" ;;
    -h|--help|help) usage ;;
    *) say "unknown command: $cmd"; usage ;;
esac
