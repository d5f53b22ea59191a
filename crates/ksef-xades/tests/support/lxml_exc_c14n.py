"""Reference Exclusive XML Canonicalization for the ksef-xades tests, computed by libxml2 through lxml.

xmllint's --exc-c14n always keeps comments and takes neither an InclusiveNamespaces PrefixList nor a
subtree, so the tests ask this helper for those cases. It uses the same libxml2 C14N code as xmllint.

Protocol (one request after another on stdin, answers on stdout):
  request: "<length>\t<comments 0|1>\t<prefixes separated by spaces, or ->\t<apex index or ->\t<excluded index or ->\n"
           followed by <length> bytes of XML. Indices count elements in document order, the root being 0.
  answer:  "OK <length>\n" + canonical bytes, or "ERR <length>\n" + a message.

A subtree is canonicalized with lxml's element serializer, which hands libxml2 a document whose root is the
apex and carries the namespace declarations in scope there: for exclusive canonicalization that is the same
as canonicalizing the apex's subtree as a document subset. An excluded subtree is removed from the tree first
(its tail text kept), which is what the enveloped-signature transform's node set amounts to.

The PrefixList token "#default" is passed to libxml2 as the empty prefix, which libxml2 reads as the default
namespace. lxml only forwards prefixes that are already in the (per-thread, shared) libxml2 name dictionary
and silently drops the rest, and neither "#default" nor "" is there unless some document put it there; so a
document with xmlns="" is parsed once at start-up to intern the empty string.
"""

import sys

from lxml import etree


def canonicalize(data, with_comments, prefixes, apex, excluded):
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        remove_blank_text=False,
        remove_comments=False,
        remove_pis=False,
        strip_cdata=True,
    )
    root = etree.fromstring(data, parser)
    elements = list(root.iter(etree.Element))
    if excluded is not None:
        element = elements[excluded]
        parent = element.getparent()
        if parent is None:
            raise ValueError("the root element cannot be excluded")
        if element.tail:
            previous = element.getprevious()
            if previous is not None:
                previous.tail = (previous.tail or "") + element.tail
            else:
                parent.text = (parent.text or "") + element.tail
        parent.remove(element)
    target = root.getroottree() if apex is None else elements[apex]
    return etree.tostring(
        target,
        method="c14n",
        exclusive=True,
        with_comments=with_comments,
        inclusive_ns_prefixes=prefixes,
    )


# Interns "" in lxml's shared name dictionary (see the module docstring); kept alive on purpose.
_PRIMER = etree.fromstring(b'<primer xmlns=""/>')


def main():
    stdin = sys.stdin.buffer
    stdout = sys.stdout.buffer
    while True:
        header = stdin.readline()
        if not header:
            return
        length, comments, prefixes, apex, excluded = header.rstrip(b"\n").decode().split("\t")
        data = stdin.read(int(length))
        try:
            result = canonicalize(
                data,
                comments == "1",
                None if prefixes == "-" else ["" if p == "#default" else p for p in prefixes.split(" ")],
                None if apex == "-" else int(apex),
                None if excluded == "-" else int(excluded),
            )
            stdout.write(b"OK %d\n" % len(result) + result)
        except Exception as error:  # reported to the test, which shows it
            message = repr(error).encode()
            stdout.write(b"ERR %d\n" % len(message) + message)
        stdout.flush()


if __name__ == "__main__":
    main()
