#!/usr/bin/env bash
# fetch-crds.sh DEST_DIR
#
# Puts the CustomResourceDefinitions of the custom resources the helhet chart renders into DEST_DIR,
# for `kubectl-validate --local-crds DEST_DIR` (without them it fails: "failed to locate OpenAPI spec
# for GV"). Only package registries are reachable, so each CRD comes from a registry package, at a
# pinned version:
#   keda.sh_scaledobjects.yaml, keda.sh_triggerauthentications.yaml
#       Go module github.com/kedacore/keda/v2 (config/crd/bases), checked by the Go checksum database.
#   monitoring.coreos.com_servicemonitors.yaml
#       Go module github.com/prometheus-operator/prometheus-operator (example/prometheus-operator-crd).
#   kafka.strimzi.io_kafkatopics.yaml
#       Strimzi ships no CRD YAML in any registry package, but its CRDs are generated, not hand-written:
#       the release build runs io.strimzi:crd-generator over the io.strimzi:api classes. Both jars are
#       on Maven Central, so we run the same generator with the same arguments as Strimzi's api/pom.xml
#       (execution generate-crd-co-install-v1-eo), which yields its 043-Crd-kafkatopic.yaml.
#       crd-generator is published for a few releases only; 0.45.0 is the newest of them that still
#       serves KafkaTopic v1beta2, the chart's version (1.2.0 serves only v1).
#
# Idempotent: a CRD already in DEST_DIR is kept; new ones are built in a temporary directory and
# copied in only when all are complete. The caller keys DEST_DIR by this script's hash, so changing a
# pin here means a fresh directory. Needs: go, mvn, java (17+). Fails loudly on any error.
set -euo pipefail

KEDA_MODULE=github.com/kedacore/keda/v2@v2.18.0
PROM_OPERATOR_MODULE=github.com/prometheus-operator/prometheus-operator@v0.85.0
STRIMZI_VERSION=0.45.0
# Maven Central publishes only SHA-1 sums; pin SHA-256 so a changed jar (or mirror) fails here.
STRIMZI_API_SHA256=7112a02ebf29d38b2eb2ad8da90353d2a3922aea2fe2bddc2abe4e5956fdfe9a
STRIMZI_CRDGEN_SHA256=f03aab1b83d29bbd340ce484a4bb651faac7685c685865a30351a636da6008ea
MAVEN_DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.8.1

die() { echo "fetch-crds: $*" >&2; exit 1; }

[[ $# -eq 1 && -n $1 ]] || die "usage: $0 DEST_DIR"
dest=$1

# file name in DEST_DIR -> metadata.name the CRD must have
declare -A want=(
  [keda.sh_scaledobjects.yaml]=scaledobjects.keda.sh
  [keda.sh_triggerauthentications.yaml]=triggerauthentications.keda.sh
  [monitoring.coreos.com_servicemonitors.yaml]=servicemonitors.monitoring.coreos.com
  [kafka.strimzi.io_kafkatopics.yaml]=kafkatopics.kafka.strimzi.io
)

missing=()
for f in "${!want[@]}"; do [[ -s $dest/$f ]] || missing+=("$f"); done
if [[ ${#missing[@]} -eq 0 ]]; then
  exit 0
fi

for tool in go mvn java; do
  command -v "$tool" >/dev/null || die "$tool is needed to fetch ${missing[*]}"
done

mkdir -p "$dest"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
needs() { [[ " ${missing[*]} " == *" $1 "* ]]; }

# Prints the directory of an extracted Go module. Run outside any module, and -mod=mod so that a
# GOFLAGS=-mod=vendor of the caller cannot get in the way.
go_module_dir() {
  local json dir
  json=$(cd "$tmp" && GOFLAGS=-mod=mod go mod download -json "$1") || die "go mod download $1 failed: $json"
  dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$json")
  [[ -n $dir && -d $dir ]] || die "go mod download $1 gave no module directory: $json"
  echo "$dir"
}

if needs keda.sh_scaledobjects.yaml || needs keda.sh_triggerauthentications.yaml; then
  keda=$(go_module_dir "$KEDA_MODULE")
  cp "$keda/config/crd/bases/keda.sh_scaledobjects.yaml" \
     "$keda/config/crd/bases/keda.sh_triggerauthentications.yaml" "$tmp/"
fi

if needs monitoring.coreos.com_servicemonitors.yaml; then
  prom=$(go_module_dir "$PROM_OPERATOR_MODULE")
  cp "$prom/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml" "$tmp/"
fi

if needs kafka.strimzi.io_kafkatopics.yaml; then
  # A throwaway project so that one mvn call resolves both jars (through the user's settings and
  # local repository), without their dependencies: crd-generator is a fat jar that holds them.
  mkdir -p "$tmp/mvn"
  cat >"$tmp/mvn/pom.xml" <<EOF
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.helhet</groupId><artifactId>fetch-crds</artifactId><version>0</version>
  <dependencies>
    <dependency><groupId>io.strimzi</groupId><artifactId>api</artifactId><version>$STRIMZI_VERSION</version>
      <exclusions><exclusion><groupId>*</groupId><artifactId>*</artifactId></exclusion></exclusions></dependency>
    <dependency><groupId>io.strimzi</groupId><artifactId>crd-generator</artifactId><version>$STRIMZI_VERSION</version>
      <exclusions><exclusion><groupId>*</groupId><artifactId>*</artifactId></exclusion></exclusions></dependency>
  </dependencies>
</project>
EOF
  # -C: fail on a checksum mismatch instead of warning. Its log is shown only when it fails.
  (cd "$tmp/mvn" && mvn -B -C -Dstyle.color=never \
      "$MAVEN_DEPENDENCY_PLUGIN:copy-dependencies" -DoutputDirectory="$tmp/mvn/lib") >"$tmp/mvn.log" 2>&1 \
    || { cat "$tmp/mvn.log" >&2; die "mvn could not fetch io.strimzi:api/crd-generator:$STRIMZI_VERSION"; }
  api=$tmp/mvn/lib/api-$STRIMZI_VERSION.jar
  gen=$tmp/mvn/lib/crd-generator-$STRIMZI_VERSION.jar
  echo "$STRIMZI_API_SHA256  $api" | sha256sum -c --quiet - || die "unexpected SHA-256 of $api"
  echo "$STRIMZI_CRDGEN_SHA256  $gen" | sha256sum -c --quiet - || die "unexpected SHA-256 of $gen"
  # The generator logs through slf4j with no binding: silence its 3-line warning, keep real errors.
  java -cp "$api:$gen" io.strimzi.crdgenerator.CrdGenerator \
      --label app:strimzi --label strimzi.io/crd-install:true \
      --target-kube 1.16+ --crd-api-version v1 \
      --api-versions v1alpha1,v1beta1,v1beta2 --storage-version v1beta2 \
      --yaml "io.strimzi.api.kafka.model.topic.KafkaTopic=$tmp/kafka.strimzi.io_kafkatopics.yaml" \
      2> >(grep -v '^SLF4J: ' >&2) \
    || die "Strimzi's CrdGenerator failed"
fi

# Sanity-check each new file before it lands, so that a moved path upstream cannot leave a wrong or
# empty file that later runs would skip.
for f in "${missing[@]}"; do
  [[ -s $tmp/$f ]] || die "$f was not produced"
  grep -q '^kind: CustomResourceDefinition$' "$tmp/$f" || die "$f is not a CustomResourceDefinition"
  grep -q "^  name: ${want[$f]}\$" "$tmp/$f" || die "$f does not define ${want[$f]}"
done
# Copy beside the target, then rename: a rename within DEST_DIR is atomic, and an interrupted copy
# leaves only a *.part file, which neither this script nor kubectl-validate (*.yaml) picks up.
for f in "${missing[@]}"; do
  cp "$tmp/$f" "$dest/.$f.part"
  chmod 644 "$dest/.$f.part" # the Go module cache's files are read-only
  mv -f "$dest/.$f.part" "$dest/$f"
done
echo "fetch-crds: wrote ${missing[*]} to $dest" >&2
