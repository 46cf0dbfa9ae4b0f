"""The lineage store in Table Storage, and snapshots in Blob Storage."""
