#!/usr/bin/env bash
# Fails when a file of the repository names an absolute path of one
# machine: anything outside the standard system folders, such as a
# developer's home or work folder. The project must build and test from any
# clone, so code, tests, scripts and docs may only name paths inside the
# repository (relative) or system folders.
#
#   scripts/check-paths.sh        (run by .ci/run and scripts/test.sh)
#
# Checked: every file git tracks or would add (not ignored ones), except the
# recordings in tests/fixtures/otrs (byte-exact, not ours to edit), binary
# files and Cargo.lock. Allowed first folders: usr etc var tmp proc dev sys
# run bin sbin lib lib32 lib64 opt boot, and root's home alone (HOME=/root
# of the sandbox; anything below it is one machine's). Also allowed: the
# HTTP paths the project serves and calls (OTRS's and the stand-in's), and
# one-level names such as "/x" or "/CN=", which are not file paths here.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
. "$here/lib.sh"
cd "$top"

command -v git >/dev/null || die "git not found"
git rev-parse --is-inside-work-tree >/dev/null 2>&1 || die "not a git checkout: $top"

files=()
while IFS= read -r -d '' f; do
    case "$f" in
        tests/fixtures/otrs/*|Cargo.lock|*/Cargo.lock) continue ;;
    esac
    [ -f "$f" ] && files+=("$f")
done < <(git ls-files -z --cached --others --exclude-standard)

# perl (part of every Debian) prints file:line: path for each bad path.
bad=$(printf '%s\0' "${files[@]}" | xargs -0 perl -ne '
    BEGIN {
        %system = map { $_ => 1 } qw(usr etc var tmp proc dev sys run bin sbin lib lib32 lib64 opt boot);
        # HTTP paths: OTRS (/otrs/nph-genericinterface.pl/Webservice/...,
        # /otrs/rpc.pl), the stand-in control port, bench/keepalive_otrs.py
        %http = map { $_ => 1 } qw(otrs nph-genericinterface.pl rpc.pl Webservice Ticket Session control reset counts);
        %machine = map { $_ => 1 } qw(home work root srv mnt media data scratch workspace Users);
    }
    close ARGV if eof;    # keeps $. per file
    next if -B $ARGV;     # binary files
    next if /check-paths: allow/;
    # A path starts a token: at the line start, after a space or one of
    # ( = , : [ { | ; or after such a character and a quote. So "$DIR"/x
    # and {prefix}/rpc.pl (paths under something) are not taken for
    # absolute ones.
    while (m!(?:^|(?<=[\s(=,:\[{|;])|(?<=^["\x27`])|(?<=[\s(=,:\[{|;]["\x27`]))(/([A-Za-z0-9_][A-Za-z0-9_.\@+-]*)((?:/[A-Za-z0-9_.\@+-]*)*))!g) {
        my ($path, $first, $rest) = ($1, $2, $3);
        next if $system{$first} || $http{$first};
        next if $path eq "/root" || $path eq "/root/";
        # one level ("/x", "/CN=", an awk /regex/) is no file path, but these are
        next if $rest !~ m{^/[^/]} && !$machine{$first};
        print "$ARGV:$.: $path\n";
    }
' 2>&1)

if [ -n "$bad" ]; then
    printf '%s\n' "$bad" >&2
    die "absolute paths outside the repository and the system folders (above): make them relative to the repository, or read them from the environment (a line that only looks like one can say 'check-paths: allow')"
fi
say "check-paths: no machine-specific absolute path in ${#files[@]} files"
