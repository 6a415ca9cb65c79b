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
