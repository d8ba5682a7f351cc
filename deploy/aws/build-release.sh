#!/usr/bin/env bash
# Builds the release artifact of the AWS deployment: a tar.gz holding the release binary, its
# systemd units, the secret-fetching and draining scripts, the log and agent settings and the
# installer the instances run (see docs/aws.md, "The release artifact").
#
#   deploy/aws/build-release.sh                                  # build and pack
#   deploy/aws/build-release.sh --upload s3://BUCKET/releases/   # ... and upload
#   deploy/aws/build-release.sh --binary PATH                    # pack an existing binary
#   deploy/aws/build-release.sh --out DIR                        # where the tar.gz goes (default
#                                                                # $COFFEE_RADAR_RELEASE_DIR or target/aws-release)
#
# The binary is built with `cargo build --release --locked` and must come from Debian 12 (or
# an older glibc): the instances run Debian 12, whose glibc is 2.36.
# Standard output is one line, the artifact's key in the bucket (releases/NAME.tar.gz): the
# ReleaseKey parameter of the stack. Everything else goes to standard error.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
upload=
binary=
out=${COFFEE_RADAR_RELEASE_DIR:-$root/target/aws-release}

usage() { sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2; exit "${1:-2}"; }
while (($#)); do
    case $1 in
        --upload) upload=${2:?--upload needs s3://BUCKET/releases/}; shift 2 ;;
        --binary) binary=${2:?--binary needs a path}; shift 2 ;;
        --out) out=${2:?--out needs a folder}; shift 2 ;;
        -h | --help) usage 0 ;;
        *) echo "unknown argument: $1" >&2; usage ;;
    esac
done
if [ -n "$upload" ] && [[ ! $upload =~ ^s3://[a-z0-9.-]+/releases/?$ ]]; then
    echo "--upload must be s3://BUCKET/releases/ (the instances may read only that prefix)" >&2
    exit 2
fi

if [ -z "$binary" ]; then
    glibc=$(getconf GNU_LIBC_VERSION | awk '{print $2}')
    if [ "$(printf '%s\n2.36\n' "$glibc" | sort -V | tail -1)" != 2.36 ]; then
        echo "This machine has glibc $glibc; a binary built here would not run on Debian 12 (2.36)." >&2
        echo "Build on Debian 12, or pass --binary with one built there." >&2
        exit 1
    fi
    echo "Building: cargo build --release --locked" >&2
    (cd "$root" && cargo build --release --locked >&2)
    binary=$root/target/release/coffee-radar
fi
[ -x "$binary" ] || { echo "no executable binary at $binary" >&2; exit 1; }

version=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$root/Cargo.toml" | head -1)
commit=$(git -C "$root" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
# A build from uncommitted changes gets a unique name, so that deploying it changes the stack.
if [ -n "$(git -C "$root" status --porcelain 2>/dev/null)" ]; then
    commit="$commit-dirty$(date -u +%Y%m%d%H%M%S)"
fi
name=coffee-radar-$version-$commit

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
dir=$stage/$name
mkdir -p "$dir/bin" "$dir/systemd" "$dir/config" "$dir/docs"
install -m 0755 "$binary" "$dir/bin/coffee-radar"
install -m 0755 "$here/release/fetch-secrets" "$here/release/lifecycle-watch" "$here/release/run-export" "$dir/bin/"
install -m 0755 "$here/release/install.sh" "$dir/"
install -m 0644 "$here/coffee-radar.service" "$here"/release/systemd/* "$dir/systemd/"
install -m 0644 "$here"/release/config/* "$dir/config/"
if [ -f "$root/docs/aws.md" ]; then install -m 0644 "$root/docs/aws.md" "$dir/docs/"; fi
echo "$version ($commit)" >"$dir/VERSION"
(cd "$dir" && find . -type f -printf '%P\n' | LC_ALL=C sort | xargs sha256sum) >"$stage/SHA256SUMS"
mv "$stage/SHA256SUMS" "$dir/"

mkdir -p "$out"
artifact=$out/$name.tar.gz
# Reproducible: the same inputs give the same bytes.
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='2000-01-01 00:00Z' \
    -C "$stage" -cf - "$name" | gzip -n >"$artifact"
echo "Packed $artifact ($(du -h "$artifact" | cut -f1))" >&2

key=releases/$name.tar.gz
if [ -n "$upload" ]; then
    bucket=${upload#s3://}
    bucket=${bucket%%/*}
    aws s3 cp --only-show-errors "$artifact" "s3://$bucket/$key" >&2
    echo "Uploaded s3://$bucket/$key - deploy it with ReleaseKey=$key" >&2
fi
echo "$key"
