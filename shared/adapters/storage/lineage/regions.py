"""Each region's lineage, read where it lives: one reader and one snapshot store per account.

In Azure the accounts come from the region catalog and are read with the caller's Entra
credentials (managed identity, or ``az login`` on an auditor's machine; the role needed is
Storage Table Data Reader + Storage Blob Data Reader on each account). Locally they are the
stack's Azurite accounts. Nothing is copied between accounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shared.adapters.storage.lineage.heads_blobs import BlobCheckpoints
from shared.adapters.storage.lineage.reader import TableLineageReader
from shared.domain.catalog import RegionCatalog


@dataclass(frozen=True)
class RegionLineage:
    region: str
    reader: TableLineageReader
    heads: BlobCheckpoints


def region_lineage(region: str, table_service: Any, blob_service: Any) -> RegionLineage:
    return RegionLineage(region, TableLineageReader(table_service), BlobCheckpoints(blob_service))


def catalog_regions(
    catalog: RegionCatalog, credential: Any, only: str | None = None
) -> dict[str, RegionLineage]:
    """Every region of the catalog (or one), in catalog order, over Entra credentials."""
    import os

    from azure.data.tables import TableServiceClient
    from azure.storage.blob import BlobServiceClient

    from shared.adapters.http_pool import cell_transport, requests_transport

    # one pool for this process's reads of every region (blobs: requests, they stream)
    transport, blob_transport = cell_transport(os.environ), requests_transport(os.environ)
    out = {}
    for entry in catalog.regions:
        if only is not None and entry.name != only:
            continue
        tables = TableServiceClient(
            endpoint=entry.storage.endpoint("table"), credential=credential, transport=transport
        )
        blobs = BlobServiceClient(
            entry.storage.endpoint("blob"), credential=credential, transport=blob_transport
        )
        out[entry.name] = region_lineage(entry.name, tables, blobs)
    return out
