"""The metadata contract: label keys, value rules, parsing labels/tags into ``ModelMetadata``."""
