"""Retrievers over an index folder: BM25, dense, hybrid, and a LangChain adapter."""
