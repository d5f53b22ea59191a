"""Bench driver for the Python KSeF clients (`ksef-client`, `ksef2`), used by bench/compare.sh.

    python driver.py LIB TASK ARGS...

LIB is `ksef-client` or `ksef2`. TASKS:

    import                          import the package only
    batch DIR CERT_PEM OUT          ZIP + split + AES-256-CBC + SHA-256 metadata of DIR/*.xml
    online DIR                      per invoice: hash+size, AES-256-CBC, hash+size, base64
    decrypt IN OUT KEY_HEX IV_HEX   AES-256-CBC decryption of IN into OUT

Each task calls the library's own functions; where the library exposes the step only as a
private helper (a module starting with `_`), the driver imports that helper and says so in
bench/README.md. Exit status 3 means "this library cannot do this task".
"""

import base64
import os
import sys
from pathlib import Path


def xml_files(directory):
    return sorted(Path(directory).iterdir())


def write_parts(out, parts):
    os.makedirs(out, exist_ok=True)
    for number, part in enumerate(parts, start=1):
        Path(out, f"part-{number:04}.zip.aes").write_bytes(part)


# --- ksef-client ---------------------------------------------------------------------------


def ksef_client_task(task, args):
    if task == "import":
        import ksef_client  # noqa: F401
        return
    from ksef_client.services import crypto
    if task == "batch":
        from ksef_client.services.batch import encrypt_batch_parts
        from ksef_client.utils.zip_utils import build_zip

        directory, cert, out = args
        files = {path.name: path.read_bytes() for path in xml_files(directory)}
        encryption = crypto.build_encryption_data(Path(cert).read_bytes())
        zip_bytes = build_zip(files)
        parts, info = encrypt_batch_parts(zip_bytes, encryption.key, encryption.iv)
        write_parts(out, parts)
        print(f"{len(files)} invoice(s), zip {info.file_size} bytes, {len(parts)} part(s)")
    elif task == "online":
        (directory,) = args
        key, iv = crypto.generate_symmetric_key(), crypto.generate_iv()
        total = 0
        for path in xml_files(directory):
            request = crypto.build_send_invoice_request(path.read_bytes(), key, iv)
            total += len(request.encrypted_invoice_content)
        print(f"prepared, {total} base64 bytes")
    elif task == "decrypt":
        source, target, key, iv = args
        plain = crypto.decrypt_aes_cbc_pkcs7(
            Path(source).read_bytes(), bytes.fromhex(key), bytes.fromhex(iv)
        )
        Path(target).write_bytes(plain)
        print(f"decrypted {len(plain)} bytes")
    else:
        raise SystemExit(f"unknown task {task}")


# --- ksef2 ---------------------------------------------------------------------------------


def ksef2_task(task, args):
    if task == "import":
        import ksef2  # noqa: F401
        return
    # ksef2's packaging and crypto steps live in private modules; the public entry points
    # (`auth.batch.prepare`, `session.send_invoice`) need a live, authenticated client.
    from ksef2._core import crypto
    if task == "batch":
        from ksef2._services.batch_preparation import (
            load_batch_invoices,
            prepare_batch_package,
        )
        from cryptography import x509
        from cryptography.hazmat.primitives.serialization import Encoding

        directory, cert, out = args
        der = x509.load_pem_x509_certificate(Path(cert).read_bytes()).public_bytes(Encoding.DER)
        key, iv = crypto.generate_session_key()
        encrypted_key = crypto.encrypt_symmetric_key(key, base64.b64encode(der).decode())
        invoices = load_batch_invoices(xml_files(directory))
        prepared = prepare_batch_package(
            invoices=invoices, aes_key=key, iv=iv, encrypted_key=encrypted_key
        )
        write_parts(out, [part.content for part in prepared.parts])
        print(
            f"{len(invoices)} invoice(s), zip {prepared.batch_file.file_size} bytes, "
            f"{len(prepared.parts)} part(s)"
        )
    elif task == "online":
        from ksef2._domain.models import SendInvoicePayload
        from ksef2._infra.mappers.invoices import to_spec

        (directory,) = args
        key, iv = crypto.generate_session_key()
        total = 0
        for path in xml_files(directory):
            xml_bytes = path.read_bytes()
            encrypted = crypto.encrypt_invoice(xml_bytes=xml_bytes, key=key, iv=iv)
            body = to_spec(SendInvoicePayload(xml_bytes=xml_bytes, encrypted_bytes=encrypted))
            total += len(body.encryptedInvoiceContent)
        print(f"prepared, {total} base64 bytes")
    elif task == "decrypt":
        source, target, key, iv = args
        with open(target, "wb") as output:
            size, _digest = crypto.decrypt_aes_cbc_to(
                Path(source).read_bytes(), bytes.fromhex(key), bytes.fromhex(iv), output
            )
        print(f"decrypted {size} bytes")
    else:
        raise SystemExit(f"unknown task {task}")


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    lib, task, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    {"ksef-client": ksef_client_task, "ksef2": ksef2_task}[lib](task, args)


if __name__ == "__main__":
    main()
