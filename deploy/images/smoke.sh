#!/usr/bin/env bash
# Smoke-test var/images/helhet-<version>.oci.tar without a container runtime (none runs nested here):
# unpack it with umoci and run each entrypoint under chroot as the image's user, with the image's env and
# working directory, so a broken shebang, a missing runtime dependency or a wrong PATH fails here.
set -euo pipefail

cd "$(dirname "$0")/../.."
VERSION=$(python3 -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
TAG=helhet:$VERSION
ARCHIVE=var/images/helhet-$VERSION.oci.tar
WORK=var/images/smoke
[[ -f $ARCHIVE ]] || { echo "smoke.sh: $ARCHIVE missing (run deploy/images/build.sh)" >&2; exit 1; }

rm -rf "$WORK"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/layout"
tar -xf "$ARCHIVE" -C "$WORK/layout"
umoci unpack --image "$WORK/layout:$TAG" "$WORK/bundle" >/dev/null
rootfs=$WORK/bundle/rootfs

# What a runtime would apply, read back from the image's own config (umoci turns it into config.json).
mapfile -t process < <(python3 - "$WORK/bundle/config.json" <<'EOF'
import json, sys
p = json.load(open(sys.argv[1]))["process"]
print(f"{p['user']['uid']}:{p['user']['gid']}")
print(p["cwd"])
print(" ".join(p["args"]))
print(*p["env"], sep="\n")
EOF
)
user=${process[0]} cwd=${process[1]} default_cmd=${process[2]} env=("${process[@]:3}")
[[ $user == 10001:10001 ]] || { echo "smoke.sh: image user is $user, want 10001:10001" >&2; exit 1; }
[[ $default_cmd == helhet-ingest ]] || { echo "smoke.sh: default command is '$default_cmd'" >&2; exit 1; }

in_image() {
    chroot --userspec="$user" "$rootfs" /usr/bin/env -i -C "$cwd" "${env[@]}" "$@"
}

for cmd in helhet-ingest helhet-profile helhet-routing helhet-notify helhet-provision; do
    echo "smoke.sh: $cmd --help"
    in_image "$cmd" --help >"$WORK/help.out" 2>&1 || { cat "$WORK/help.out" >&2; echo "smoke.sh: $cmd --help failed" >&2; exit 1; }
done

# Import every module of the two packages (a dependency left out of the image fails here), and check each
# module loaded from the venv or the stdlib has its .pyc: the root filesystem is read-only in the pods.
echo "smoke.sh: importing every module of services and schemas"
in_image python - <<'EOF'
import importlib, importlib.util, os, pkgutil, sys, traceback

assert os.getuid() == 10001, os.getuid()
failed = []
for package in ("services", "schemas"):
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, f"{package}.", onerror=failed.append):
        try:
            importlib.import_module(info.name)
        except BaseException:
            failed.append(info.name)
            traceback.print_exc()
missing_pyc = [
    m.__file__
    for m in list(sys.modules.values())
    if (getattr(m, "__file__", None) or "").endswith(".py")
    and m.__file__.startswith(("/opt/helhet/", "/usr/lib/python3"))
    and not os.path.exists(importlib.util.cache_from_source(m.__file__))
]
print(f"{len(sys.modules)} modules imported")
if failed or missing_pyc:
    sys.exit(f"import failures: {failed}\nmodules without bytecode: {missing_pyc[:20]}")
EOF

archive_mb=$(du -m "$ARCHIVE" | cut -f1)
rootfs_mb=$(du -sm "$rootfs" | cut -f1)
venv_mb=$(du -sm "$rootfs/opt/helhet" | cut -f1)
echo "smoke.sh: OK. $ARCHIVE: ${archive_mb} MB compressed; unpacked rootfs ${rootfs_mb} MB (/opt/helhet ${venv_mb} MB)"
