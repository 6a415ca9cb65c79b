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
