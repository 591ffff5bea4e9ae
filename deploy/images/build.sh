#!/usr/bin/env bash
# Build the one Helhet image (one venv, one console script per service) without pulling a base image:
# a Debian bookworm rootfs from debootstrap is the base layer, the app venv at /opt/helhet the second.
# Output: var/images/helhet-<version>.oci.tar (OCI archive, ref name helhet:<version>).
# Needs root (debootstrap, chroot, mount) plus debootstrap and buildah; `make images` installs them.
# deploy/images/Containerfile is the same image for machines that can pull python:3.11-slim: keep them in step.
set -euo pipefail

cd "$(dirname "$0")/../.."
UV=${UV:?set UV to the uv binary (make images does)}
CACHE=${HELHET_CACHE_DIR:-$HOME/.cache/helhet}/images
UV_CACHE=${UV_CACHE_DIR:-${HELHET_CACHE_DIR:-$HOME/.cache/helhet}/uv-cache}
OUT=var/images
SUITE=bookworm
PACKAGES=python3,python3-venv,ca-certificates
# Bump when the base set-up below changes, so the cached rootfs is rebuilt.
BASE_REV=1
APP_UID=10001

read -r VERSION DESCRIPTION < <(python3 -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb"))["project"]; print(p["version"], p["description"])')
REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD -- services schemas pyproject.toml uv.lock 2>/dev/null \
    || echo "build.sh: warning: uncommitted changes in services/schemas/pyproject/uv.lock; revision label says $REVISION" >&2
SOURCE=${HELHET_IMAGE_SOURCE:-$(git remote get-url origin 2>/dev/null || true)}
TAG=helhet:$VERSION
ARCHIVE=$OUT/helhet-$VERSION.oci.tar

# The mirrors apt already uses (no other network here); HELHET_DEBIAN_MIRROR overrides the main one.
# shellcheck disable=SC2016  # $(SITE) is apt's format, not the shell's
mapfile -t SOURCES < <(apt-get indextargets --format '$(SITE) $(RELEASE)' 2>/dev/null \
    | awk -v s="$SUITE" '$2 == s || $2 == s "-updates" || $2 == s "-security"' | sort -u)
[[ ${#SOURCES[@]} -gt 0 ]] || SOURCES=("http://deb.debian.org/debian $SUITE" "http://deb.debian.org/debian $SUITE-updates"
    "http://deb.debian.org/debian-security $SUITE-security")
MIRROR=${HELHET_DEBIAN_MIRROR:-$(printf '%s\n' "${SOURCES[@]}" | awk -v s="$SUITE" '$2 == s {print $1; exit}')}
MIRROR=${MIRROR:-http://deb.debian.org/debian}

KEY=$(printf '%s\n' "$BASE_REV" "$SUITE" "$PACKAGES" "$MIRROR" "${SOURCES[@]}" "$APP_UID" | sha256sum | cut -c1-16)
BASE_DIR=$CACHE/rootfs-$KEY
BASE_IMAGE=localhost/helhet-base:$KEY

# Own storage under the cache (vfs: no overlay or fuse needed), so the system's containers storage is untouched.
BUILDAH=(buildah --storage-driver vfs --root "$CACHE/buildah/root" --runroot "$CACHE/buildah/runroot")
# Commit/push accept anything: the only input is our own rootfs, and no policy file needs to exist.
POLICY=$(mktemp --suffix=.json)
echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$POLICY"

ctr='' mnt=''
cleanup() {
    rm -f "$POLICY"
    rm -rf "$BASE_DIR.tmp"
    if [[ -n $mnt ]] && mountpoint -q "$mnt/var/cache/uv"; then
        # Never remove the container while the uv cache is mounted in it: that would delete the cache.
        umount "$mnt/var/cache/uv" || { echo "build.sh: $mnt/var/cache/uv still mounted, container $ctr kept" >&2; return; }
    fi
    if [[ -n $ctr ]]; then "${BUILDAH[@]}" rm "$ctr" >/dev/null 2>&1 || true; fi
}
trap cleanup EXIT

build_base_rootfs() {
    local dir=$BASE_DIR.tmp
    rm -rf "$dir"
    echo "build.sh: debootstrap $SUITE from $MIRROR (cached afterwards in $BASE_DIR)"
    debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$dir" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
        || { tail -20 "$CACHE/debootstrap.log" >&2; exit 1; }
    # debootstrap only knows the release itself: take bookworm-updates and -security fixes too.
    printf 'deb %s main\n' "${SOURCES[@]}" >"$dir/etc/apt/sources.list"
    chroot "$dir" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
        sh -c 'apt-get update -qq && apt-get upgrade -y -qq && apt-get clean' >"$CACHE/upgrade.log" 2>&1 \
        || { tail -20 "$CACHE/upgrade.log" >&2; exit 1; }
    # Size: package lists, .deb cache, logs, docs, man pages and translations are not needed at run time;
    # keep dpkg's status database so image scanners can list the packages.
    rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/* "$dir"/var/cache/debconf/*-old "$dir"/var/lib/dpkg/*-old \
        "$dir"/var/log/* "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/usr/share/info/* "$dir"/usr/share/locale/*
    printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
        'path-exclude /usr/share/locale/*' >"$dir/etc/dpkg/dpkg.cfg.d/helhet-nodoc"
    # The pods run as a fixed non-root uid (Kubernetes runAsNonRoot needs a numeric user).
    echo "helhet:x:$APP_UID:$APP_UID:Helhet:/tmp:/usr/sbin/nologin" >>"$dir/etc/passwd"
    echo "helhet:x:$APP_UID:" >>"$dir/etc/group"
    echo "helhet:*:19000:0:99999:7:::" >>"$dir/etc/shadow"
    # The host's name resolution and identity do not belong in an image (the runtime provides them).
    : >"$dir/etc/resolv.conf"
    : >"$dir/etc/machine-id"
    rm -f "$dir/etc/hostname"
    mv "$dir" "$BASE_DIR"
}

mkdir -p "$CACHE" "$OUT"
if [[ ! -d $BASE_DIR ]]; then
    build_base_rootfs
    # Older bases (other package lists or mirrors) are dead weight.
    find "$CACHE" -maxdepth 1 -name 'rootfs-*' ! -name "rootfs-$KEY" -exec rm -rf {} +
fi

# Layer 1: the base rootfs, committed once per cache key and kept in the cache's storage, so that the app layer
# is all a rebuild commits (and all a node pulls again when only the code changed).
if ! "${BUILDAH[@]}" inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then
    echo "build.sh: committing base layer $BASE_IMAGE"
    "${BUILDAH[@]}" images --format '{{.Name}}:{{.Tag}}' | grep '^localhost/helhet-base:' \
        | xargs -r "${BUILDAH[@]}" rmi -f >/dev/null 2>&1 || true
    ctr=$("${BUILDAH[@]}" from --signature-policy "$POLICY" scratch)
    mnt=$("${BUILDAH[@]}" mount "$ctr")
    cp -a "$BASE_DIR/." "$mnt/"
    "${BUILDAH[@]}" commit --quiet --signature-policy "$POLICY" --rm "$ctr" "$BASE_IMAGE" >/dev/null
    ctr='' mnt=''
fi

# Layer 2: the app. Install inside a chroot of the image itself, so the venv, its shebangs (/opt/helhet/bin/python)
# and the bytecode's file names are the ones the container sees.
ctr=$("${BUILDAH[@]}" from --signature-policy "$POLICY" --pull=never "$BASE_IMAGE")
mnt=$("${BUILDAH[@]}" mount "$ctr")

# The project source only: tracked and not-ignored files of the two runtime packages (no tests/, bench/, deploy/,
# .venv, var/). pyproject's wheel target also lists deploy and bench; the staged copy builds services + schemas.
src=$mnt/tmp/src
mkdir -p "$src"
git ls-files -co --exclude-standard -z services schemas pyproject.toml uv.lock \
    | while IFS= read -r -d '' f; do if [[ -e $f ]]; then printf '%s\0' "$f"; fi; done \
    | xargs -0 cp --parents -t "$src"
sed -i 's/^packages = \[.*\]$/packages = ["services", "schemas"]/' "$src/pyproject.toml"
grep -qx 'packages = \["services", "schemas"\]' "$src/pyproject.toml" || { echo "build.sh: no wheel packages line" >&2; exit 1; }

cp "$UV" "$mnt/tmp/uv"
# The host's trust store: PyPI may be reached through a TLS-inspecting proxy whose CA only the host trusts.
cp "${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}" "$mnt/tmp/host-ca.crt"
cp /etc/resolv.conf "$mnt/etc/resolv.conf"
mkdir -p "$mnt/var/cache/uv" "$UV_CACHE"
mount --bind "$UV_CACHE" "$mnt/var/cache/uv"

# Exactly the locked non-dev set (same as the Containerfile's `uv sync --frozen --no-dev --no-editable`).
chroot "$mnt" env -i PATH=/usr/bin:/bin HOME=/tmp UV_CACHE_DIR=/var/cache/uv UV_PYTHON_DOWNLOADS=never \
    UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/opt/helhet SSL_CERT_FILE=/tmp/host-ca.crt \
    sh -c 'cd /tmp/src && /tmp/uv sync --quiet --frozen --no-dev --no-editable --python /usr/bin/python3.11'
umount "$mnt/var/cache/uv"
if mountpoint -q "$mnt/var/cache/uv"; then echo "build.sh: uv cache still mounted" >&2; exit 1; fi

# Pods run with a read-only root filesystem: compile everything now. unchecked-hash .pyc files stay valid
# whatever happens to file times in layers (the sources never change inside an image).
chroot "$mnt" /opt/helhet/bin/python -m compileall -q -j0 --invalidation-mode unchecked-hash /opt/helhet >/dev/null

rm -rf "$mnt"/tmp/* "$mnt"/tmp/.[!.]* "$mnt/var/cache/uv"
: >"$mnt/etc/resolv.conf"
for dir in bench deploy tests; do
    if [[ -e $mnt/opt/helhet/lib/python3.11/site-packages/$dir ]]; then
        echo "build.sh: $dir/ ended up in the image" >&2
        exit 1
    fi
done

labels=(
    org.opencontainers.image.title=helhet
    "org.opencontainers.image.description=$DESCRIPTION"
    "org.opencontainers.image.version=$VERSION"
    "org.opencontainers.image.revision=$REVISION"
    "org.opencontainers.image.created=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
)
[[ -z $SOURCE ]] || labels+=("org.opencontainers.image.source=$SOURCE")
config=(
    --user "$APP_UID:$APP_UID" --workingdir /tmp
    --env PATH=/opt/helhet/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
    --env HOME=/tmp --env LANG=C.UTF-8 --env PYTHONDONTWRITEBYTECODE=1 --env PYTHONUNBUFFERED=1
    --env HELHET_API_HOST=0.0.0.0
    # No entrypoint: the pod's command picks the service; helhet-ingest when none is given.
    --entrypoint '[]' --cmd '["helhet-ingest"]'
)
for label in "${labels[@]}"; do config+=(--label "$label" --annotation "$label"); done
"${BUILDAH[@]}" config "${config[@]}" "$ctr"

"${BUILDAH[@]}" commit --quiet --signature-policy "$POLICY" --rm "$ctr" "localhost/$TAG" >/dev/null
ctr='' mnt=''
rm -f "$ARCHIVE"
"${BUILDAH[@]}" push --quiet --signature-policy "$POLICY" "localhost/$TAG" "oci-archive:$ARCHIVE:$TAG"
# The archive is the product; the app image in the cache's storage would only grow it.
"${BUILDAH[@]}" rmi "localhost/$TAG" >/dev/null
echo "build.sh: $ARCHIVE ($TAG, revision $REVISION)"
