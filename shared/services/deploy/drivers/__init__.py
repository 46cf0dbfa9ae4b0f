"""The deployment drivers (one ``Deployer`` each): gitops, kubernetes, aml."""
