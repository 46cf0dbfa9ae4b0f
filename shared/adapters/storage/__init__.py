"""Azure Storage: tables, queues and blobs of the cell's own account."""
