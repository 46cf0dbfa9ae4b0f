"""Lineage: records, the hash chain, indexes, views, paging, export, snapshots, verification."""
