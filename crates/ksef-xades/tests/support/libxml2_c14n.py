"""Reference canonicalization for the ksef-xades tests: libxml2's own C14N code, called through ctypes.

xmllint's --c14n, --c14n11 and --exc-c14n canonicalize a whole document and always keep comments. This
helper reaches the same library function (xmlC14NExecute) for everything else: each of the three
algorithms (libxml2's modes 0 = Canonical XML 1.0, 1 = Exclusive 1.0, 2 = Canonical XML 1.1), with or
without comments, with an InclusiveNamespaces PrefixList (exclusive only), for the whole document or for
a document subset. It needs only Python 3 and the libxml2 shared library (Debian: python3, libxml2).

A document subset is described as XML Signature describes it for a same-document reference: the subtree
of an apex element (its ancestors omitted) and/or the whole document, minus the subtree of an excluded
element (the enveloped-signature transform). libxml2 asks a visibility callback about every node, and
about attributes and namespace nodes together with their element; the callback answers from the tree.

Protocol (one request after another on stdin, answers on stdout):
  request: "<length>\t<mode 0|1|2>\t<comments 0|1>\t<prefixes separated by spaces, or ->\t<apex index or ->\t
           <excluded index or ->\n" (one line) followed by <length> bytes of XML. Indices count elements in
           document order, the root being 0.
  answer:  "OK <length>\n" + canonical bytes, or "ERR <length>\n" + a message.
"""

import ctypes
import ctypes.util
import sys

XML_ELEMENT_NODE = 1
XML_ATTRIBUTE_NODE = 2
XML_NAMESPACE_DECL = 18
XML_PARSE_NOERROR = 1 << 5
XML_PARSE_NOWARNING = 1 << 6
XML_PARSE_NONET = 1 << 11

# Offsets in libxml2's node structures (x86-64 and other LP64 targets): xmlNode, xmlAttr and xmlDoc all
# start with _private, type, name, children, last, parent, next; xmlNs starts with next, type.
POINTER = ctypes.sizeof(ctypes.c_void_p)
TYPE_AT = POINTER
CHILDREN_AT = 3 * POINTER
PARENT_AT = 5 * POINTER
NEXT_AT = 6 * POINTER


def load():
    name = ctypes.util.find_library("xml2") or "libxml2.so.2"
    lib = ctypes.CDLL(name)
    lib.xmlReadMemory.restype = ctypes.c_void_p
    lib.xmlReadMemory.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int]
    lib.xmlDocGetRootElement.restype = ctypes.c_void_p
    lib.xmlDocGetRootElement.argtypes = [ctypes.c_void_p]
    lib.xmlFreeDoc.argtypes = [ctypes.c_void_p]
    lib.xmlAllocOutputBuffer.restype = ctypes.c_void_p
    lib.xmlAllocOutputBuffer.argtypes = [ctypes.c_void_p]
    lib.xmlOutputBufferGetContent.restype = ctypes.c_void_p
    lib.xmlOutputBufferGetContent.argtypes = [ctypes.c_void_p]
    lib.xmlOutputBufferGetSize.restype = ctypes.c_size_t
    lib.xmlOutputBufferGetSize.argtypes = [ctypes.c_void_p]
    lib.xmlOutputBufferClose.argtypes = [ctypes.c_void_p]
    lib.xmlC14NExecute.restype = ctypes.c_int
    lib.xmlC14NExecute.argtypes = [
        ctypes.c_void_p,
        VISIBLE,
        ctypes.c_void_p,
        ctypes.c_int,
        ctypes.POINTER(ctypes.c_char_p),
        ctypes.c_int,
        ctypes.c_void_p,
    ]
    return lib


VISIBLE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p)


def field(node, offset):
    return ctypes.c_void_p.from_address(node + offset).value


def node_type(node):
    return ctypes.c_int.from_address(node + TYPE_AT).value


def elements_in_order(root):
    found = []
    stack = [root]
    while stack:
        node = stack.pop()
        found.append(node)
        children = []
        child = field(node, CHILDREN_AT)
        while child:
            if node_type(child) == XML_ELEMENT_NODE:
                children.append(child)
            child = field(child, NEXT_AT)
        stack.extend(reversed(children))
    return found


def canonicalize(lib, data, mode, with_comments, prefixes, apex, excluded):
    doc = lib.xmlReadMemory(
        data, len(data), None, None, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING
    )
    if not doc:
        raise ValueError("libxml2 cannot parse the document")
    buf = None
    try:
        elements = elements_in_order(lib.xmlDocGetRootElement(doc))
        apex_node = None if apex is None else elements[apex]
        excluded_node = None if excluded is None else elements[excluded]

        def in_subset(node):
            while node:
                if node == excluded_node:
                    return False
                if node == apex_node:
                    return True
                node = field(node, PARENT_AT)
            return apex_node is None

        def visible(_user_data, node, parent):
            if not node:
                return 0
            owner = parent if node_type(node) in (XML_ATTRIBUTE_NODE, XML_NAMESPACE_DECL) else node
            return 1 if in_subset(owner) else 0

        callback = VISIBLE(visible)
        if prefixes:
            array = (ctypes.c_char_p * (len(prefixes) + 1))(*[p.encode() for p in prefixes], None)
        else:
            array = None
        buf = lib.xmlAllocOutputBuffer(None)
        status = lib.xmlC14NExecute(doc, callback, None, mode, array, 1 if with_comments else 0, buf)
        if status < 0:
            raise ValueError("xmlC14NExecute failed (%d)" % status)
        size = lib.xmlOutputBufferGetSize(buf)
        content = lib.xmlOutputBufferGetContent(buf)
        return ctypes.string_at(content, size) if size else b""
    finally:
        if buf:
            lib.xmlOutputBufferClose(buf)
        lib.xmlFreeDoc(doc)


def main():
    lib = load()
    stdin = sys.stdin.buffer
    stdout = sys.stdout.buffer
    while True:
        header = stdin.readline()
        if not header:
            return
        length, mode, comments, prefixes, apex, excluded = header.rstrip(b"\n").decode().split("\t")
        data = stdin.read(int(length))
        try:
            result = canonicalize(
                lib,
                data,
                int(mode),
                comments == "1",
                None if prefixes == "-" else prefixes.split(" "),
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
