"""smallrag: offline-first RAG where small models surround a large generator."""

__version__ = "0.1.0"
