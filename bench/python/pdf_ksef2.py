"""ksef2's PDF rendering (its `pdf` extra: XSLT + WeasyPrint) on the invoices ksef-pdf's bench
wrote (`cargo bench -p ksef-pdf --bench render -- --out DIR`), measured the way that bench
measures ksef-pdf: invoices per second on one thread for a few seconds, the median of 5 renders of
the 1,000-line invoice, and the process's peak RSS. One input per process, so each peak is its own.

    python pdf_ksef2.py typical DIR/typical.xml [SECONDS]
    python pdf_ksef2.py large DIR/lines-1000.xml
"""

import resource
import statistics
import sys
import time

from ksef2.renderers import InvoicePDFExporter

KSEF_NUMBER = "5265877635-20250916-0200A0D6723E-C2"


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    kind, path = sys.argv[1], sys.argv[2]
    xml = open(path, "rb").read()
    exporter = InvoicePDFExporter(verification_environment="production")
    pdf = exporter.export_from_string(xml, ksef_number=KSEF_NUMBER)  # warm-up
    if kind == "typical":
        seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 10.0
        start = time.perf_counter()
        n = 0
        while time.perf_counter() - start < seconds:
            pdf = exporter.export_from_string(xml, ksef_number=KSEF_NUMBER)
            n += 1
        per_sec = n / (time.perf_counter() - start)
        print(
            f"ksef2 typical FA(3) ({len(xml)} B XML -> {len(pdf)} B PDF): {per_sec:.1f} invoices/s "
            f"on one thread ({1000.0 / per_sec:.1f} ms each), peak RSS {peak_mib():.1f} MiB"
        )
    else:
        times = []
        for _ in range(5):
            t = time.perf_counter()
            pdf = exporter.export_from_string(xml, ksef_number=KSEF_NUMBER)
            times.append(time.perf_counter() - t)
        print(
            f"ksef2 1,000-line invoice ({len(xml) // 1024} KiB XML -> {len(pdf) // 1024} KiB PDF): "
            f"median {statistics.median(times):.3f} s of 5, peak RSS {peak_mib():.1f} MiB"
        )


if __name__ == "__main__":
    main()
