"""Retrieval: the passages that answer a question, and the citations made from them."""
