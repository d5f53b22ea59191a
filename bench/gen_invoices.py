"""Generates the bench invoices from fixtures/invoices/fa3-sample.xml.

    python3 gen_invoices.py FIXTURE OUT_DIR COUNT SIZE_BYTES

Each invoice gets its own number (P_2) and is grown to exactly SIZE_BYTES by appending
FaWiersz lines (with varying quantities and amounts) at the end of <Fa>, then whitespace
between the last line and </Fa>. Standard library only.
"""

import sys
from pathlib import Path

LINE = (
    "\t\t<FaWiersz>\n"
    "\t\t\t<NrWierszaFa>{n}</NrWierszaFa>\n"
    "\t\t\t<P_7>Pozycja {n} faktury {i}: usługa testowa</P_7>\n"
    "\t\t\t<P_8A>szt.</P_8A>\n"
    "\t\t\t<P_8B>{qty}</P_8B>\n"
    "\t\t\t<P_9A>{price}.{cents:02}</P_9A>\n"
    "\t\t\t<P_11>{net}.{cents:02}</P_11>\n"
    "\t\t\t<P_12>23</P_12>\n"
    "\t\t</FaWiersz>\n"
)


def main():
    fixture, out, count, size = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    template = Path(fixture).read_text(encoding="utf-8")
    assert "KSEF-RS-SAMPLE-0001" in template and "\t</Fa>" in template
    out.mkdir(parents=True, exist_ok=True)
    head, tail = template.split("\t</Fa>", 1)
    tail = "\t</Fa>" + tail
    for i in range(1, count + 1):
        body = head.replace("KSEF-RS-SAMPLE-0001", f"BENCH-{size}-{i:06}")
        parts = [body]
        length = len(body.encode()) + len(tail.encode())
        n = 2
        while True:
            qty = (i * 7 + n * 13) % 97 + 1
            price = (i * 31 + n * 17) % 9000 + 10
            line = LINE.format(n=n, i=i, qty=qty, price=price, net=qty * price, cents=(i + n) % 100)
            line_len = len(line.encode())
            if length + line_len > size:
                break
            parts.append(line)
            length += line_len
            n += 1
        if length > size:
            raise SystemExit(f"size {size} is smaller than the sample invoice ({length} bytes)")
        parts.append(" " * (size - length))
        parts.append(tail)
        data = "".join(parts).encode()
        assert len(data) == size, (len(data), size)
        (out / f"invoice-{i:06}.xml").write_bytes(data)


if __name__ == "__main__":
    main()
