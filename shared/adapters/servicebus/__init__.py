"""Azure Service Bus: the message bus and its dead-letter queues."""
