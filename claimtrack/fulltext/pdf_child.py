"""The PDF reader's child process: PDF bytes on stdin, one JSON line per page on stdout.

Run by path (`python pdf_child.py MAX_PAGES`), not as a module, so it imports only the standard library and
pypdfium2: it starts fast, and nothing of claimtrack runs next to a hostile file. It caps its own address space
first, so a PDF that makes PDFium allocate without end fails here instead of swapping the machine.
"""

import json
import resource
import sys

MEMORY_BYTES = 3 * 1024**3  # enough for PDFium on a large paper


def main(max_pages: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))
    import pypdfium2 as pdfium

    data = sys.stdin.buffer.read()
    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        print(json.dumps({"error": str(exc)}), flush=True)
        return
    print(json.dumps({"pages": len(document)}), flush=True)
    for index in range(min(len(document), max_pages)):
        page = document[index]
        textpage = page.get_textpage()
        print(json.dumps({"text": textpage.get_text_range()}), flush=True)
        textpage.close()
        page.close()
    document.close()


if __name__ == "__main__":
    main(int(sys.argv[1]))
