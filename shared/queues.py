"""Names of the queues the cells use. Terraform creates the same names (checked by tests)."""

APPROVAL_REQUESTS = "approval-requests"
APPROVAL_EXPIRATIONS = "approval-expirations"
DEPLOYMENT_REQUESTS = "deployment-requests"

ALL_QUEUES = (APPROVAL_REQUESTS, APPROVAL_EXPIRATIONS, DEPLOYMENT_REQUESTS)

# The Functions binding's connection name: in Azure the host reads
# CLEARANCE_SERVICEBUS__fullyQualifiedNamespace (managed identity).
SERVICE_BUS_CONNECTION = "CLEARANCE_SERVICEBUS"


def dead_letter_queue(queue: str) -> str:
    """Where the local bus moves a message after its last failed delivery."""
    return f"{queue}-deadletter"
