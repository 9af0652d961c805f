"""The `smallrag` command: one module per command group, `common` for the shared parser helpers,
`main` for the parser and the dispatch. Nothing here imports back from `main`."""
