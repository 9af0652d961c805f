"""On-disk indexes: a folder of plain files plus manifest.json."""
