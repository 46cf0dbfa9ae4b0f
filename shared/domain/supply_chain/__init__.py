"""Supply-chain evidence: signature and attestation policy, envelope parsing and verdicts."""
