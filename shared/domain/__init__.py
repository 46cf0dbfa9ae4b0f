"""Pure domain: pydantic models, state machines and policies. No Azure SDK, no I/O."""
