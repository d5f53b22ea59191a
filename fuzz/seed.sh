#!/usr/bin/env bash
# Builds the seed corpora of the fuzz targets in fuzz/corpus/<target>/ (git-ignored) from our own
# seeds in fuzz/seeds/, the repository's fixtures, the Ministry's examples in $KSEF_SPEC_DIR (default
# the repository's fixtures/ksef-spec/) and the pinned spec openapi/open-api.json. Nothing generated
# here is committed; a missing input is an error.
# Needs python3 (JSON examples, ZIP and tar.gz packages) and, optionally, openssl (certificates).
set -euo pipefail
fuzz=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$fuzz")
spec="${KSEF_SPEC_DIR:-$repo/fixtures/ksef-spec}"
openapi="$repo/openapi/open-api.json"
for need in "$spec/upo-examples" "$spec/invoice-templates"; do
  if [ ! -d "$need" ]; then
    echo "seed.sh: the Ministry's examples are not at $need (set KSEF_SPEC_DIR)" >&2
    exit 1
  fi
done
if [ ! -f "$openapi" ]; then
  echo "seed.sh: the pinned OpenAPI spec is not at $openapi" >&2
  exit 1
fi
corpus="$fuzz/corpus"

targets=(c14n xades_verify upo_xml invoice_xml invoice_validate identifiers model_json transport_error certificates export_unpack private_keys encrypted_keys)
for t in "${targets[@]}"; do mkdir -p "$corpus/$t"; done

# Copies files into a corpus under names that cannot collide.
put() { # put <target> <file>...
  local target=$1; shift
  local f
  for f in "$@"; do
    [ -f "$f" ] || continue
    cp "$f" "$corpus/$target/$(basename "$(dirname "$f")")-$(basename "$f")"
  done
}

spec_xml=()
while IFS= read -r f; do spec_xml+=("$f"); done < <(find "$spec/upo-examples" "$spec/invoice-templates" -name '*.xml' | sort)
upo_xml=()
invoice_xml=()
for f in "${spec_xml[@]}"; do
  case "$f" in
    */upo-examples/*) upo_xml+=("$f") ;;
    *) invoice_xml+=("$f") ;;
  esac
done
fixtures=("$repo"/fixtures/invoices/*.xml)

# XML: canonicalization and verification take any XML; the document parsers their own kind.
put c14n "$fuzz"/seeds/xades_verify/*.xml "$fuzz"/seeds/c14n/*.xml "${upo_xml[@]}" "${fixtures[@]}"
put xades_verify "$fuzz"/seeds/xades_verify/*.xml "${upo_xml[@]}"
put upo_xml "${upo_xml[@]}"
put invoice_xml "${invoice_xml[@]}" "${fixtures[@]}"
put invoice_validate "${invoice_xml[@]}" "${fixtures[@]}"

# Identifiers: our own, one per file.
i=0
while IFS= read -r line; do
  printf '%s' "$line" > "$corpus/identifiers/id-$i"
  i=$((i + 1))
done < "$fuzz/seeds/identifiers.txt"

# JSON: every example object or array of the OpenAPI spec, and our own error bodies.
python3 - "$openapi" "$corpus/model_json" <<'PY'
import json, sys
spec, out = sys.argv[1], sys.argv[2]
examples = []
def walk(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "example" and isinstance(value, (dict, list)):
                examples.append(value)
            elif key == "examples" and isinstance(value, dict):
                for item in value.values():
                    if isinstance(item, dict) and isinstance(item.get("value"), (dict, list)):
                        examples.append(item["value"])
            walk(value)
    elif isinstance(node, list):
        for value in node:
            walk(value)
walk(json.load(open(spec, encoding="utf-8")))
for n, example in enumerate(examples):
    with open(f"{out}/openapi-{n}.json", "w", encoding="utf-8") as f:
        json.dump(example, f, ensure_ascii=False)
PY
put model_json "$fuzz"/seeds/error_bodies/*.json

# Transport errors: status 400/401/403/429, a Retry-After, a warning header, then the body.
n=0
for body in "$fuzz"/seeds/error_bodies/*.json "$corpus"/model_json/openapi-*.json; do
  [ -f "$body" ] || continue
  for header in '\x01\x90' '\x01\xAD'; do
    { printf "$header"; printf '5\0[W1]: first | [W2]: second\0'; cat "$body"; } > "$corpus/transport_error/body-$n"
    n=$((n + 1))
  done
  [ "$n" -lt 80 ] || break
done

# Certificates: those embedded in our signed seeds, plus fresh RSA and EC ones from openssl.
n=0
for signed in "$fuzz"/seeds/xades_verify/*.xml; do
  cert=$(sed -n 's/.*<ds:X509Certificate>\([^<]*\)<.*/\1/p' "$signed")
  [ -n "$cert" ] || continue
  { printf '\0'; printf '%s' "$cert" | base64 -d; } > "$corpus/certificates/der-$n"
  { printf '\1'; printf '%s' "$cert"; } > "$corpus/certificates/base64-$n"
  n=$((n + 1))
done
if command -v openssl >/dev/null 2>&1; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  for kind in rsa:2048 ec; do
    name=${kind%%:*}
    if [ "$kind" = ec ]; then
      openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/$name.key" \
        -subj "/CN=Fuzz $name/O=ksef-rs" -days 3650 -outform DER -out "$tmp/$name.der" 2>/dev/null
    else
      openssl req -x509 -newkey "$kind" -nodes -keyout "$tmp/$name.key" \
        -subj "/CN=Fuzz $name/O=ksef-rs" -days 3650 -outform DER -out "$tmp/$name.der" 2>/dev/null
    fi
    { printf '\0'; cat "$tmp/$name.der"; } > "$corpus/certificates/openssl-$name"
    { printf '\2'; cat "$tmp/$name.der"; } > "$corpus/certificates/openssl-$name-token"
    # The keys, as PKCS#8 PEM (what -keyout writes) and DER.
    cp "$tmp/$name.key" "$corpus/private_keys/openssl-$name.pem"
    openssl pkcs8 -topk8 -nocrypt -in "$tmp/$name.key" -outform DER \
      -out "$corpus/private_keys/openssl-$name.der" 2>/dev/null
    # Password-protected (password "fuzz"): PBKDF2 and scrypt PKCS#8, and PKCS#12.
    openssl pkcs8 -topk8 -v2 aes-256-cbc -passout pass:fuzz -in "$tmp/$name.key" -outform DER \
      -out "$corpus/encrypted_keys/openssl-$name-pbkdf2.der" 2>/dev/null
    openssl pkcs8 -topk8 -scrypt -passout pass:fuzz -in "$tmp/$name.key" -outform DER \
      -out "$corpus/encrypted_keys/openssl-$name-scrypt.der" 2>/dev/null
    openssl x509 -inform DER -in "$tmp/$name.der" -out "$tmp/$name.pem" 2>/dev/null
    openssl pkcs12 -export -passout pass:fuzz -inkey "$tmp/$name.key" -in "$tmp/$name.pem" \
      -out "$corpus/encrypted_keys/openssl-$name.p12" 2>/dev/null || true
  done
fi
# A key corpus must not start empty when openssl is missing.
printf -- '-----BEGIN PRIVATE KEY-----\n-----END PRIVATE KEY-----\n' > "$corpus/private_keys/empty.pem"
printf '0' > "$corpus/encrypted_keys/empty"

# Export packages: ZIP and tar.gz of invoices with a _metadata.json, as decrypted archives (flag
# 0x00/0x01, one part; 0x0c/0x0d, four parts) for the target to encrypt.
python3 - "$corpus/export_unpack" "${fixtures[@]}" "${invoice_xml[@]}" <<'PY'
import io, json, sys, tarfile, zipfile
out, files = sys.argv[1], sys.argv[2:]
invoices = []
for n, path in enumerate(files[:3]):
    with open(path, "rb") as f:
        invoices.append((f"5265877635-20250826-0100001AF6{n:02X}-00.xml", f.read()))
metadata = json.dumps({"invoices": [{"ksefNumber": name[:-4], "invoiceNumber": f"FV/{n}"}
                                    for n, (name, _) in enumerate(invoices)]}).encode()
entries = [("_metadata.json", metadata)] + invoices
def zip_bytes(method):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data in entries:
            z.writestr(name, data)
    return buf.getvalue()
def tar_bytes():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return buf.getvalue()
packages = {
    "zip-deflated": (0, zip_bytes(zipfile.ZIP_DEFLATED)),
    "zip-stored": (0, zip_bytes(zipfile.ZIP_STORED)),
    "targz": (1, tar_bytes()),
}
for name, (flag, data) in packages.items():
    for parts in (0, 0x0C):
        with open(f"{out}/{name}-{parts:02x}", "wb") as f:
            f.write(bytes([flag | parts]) + data)
PY

for t in "${targets[@]}"; do
  printf '%-16s %4d seeds\n' "$t" "$(find "$corpus/$t" -type f | wc -l)"
done
