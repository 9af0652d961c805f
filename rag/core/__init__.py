"""The ground floor: shared types, protocols, errors, chunking, atomic writes, JSONL reading,
argument checks and the local-model plumbing. It imports nothing of ours outside this folder,
so every other part of smallrag may use it."""
