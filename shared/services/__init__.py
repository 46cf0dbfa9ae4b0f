"""Services: one function per use case, called by the trigger modules."""
