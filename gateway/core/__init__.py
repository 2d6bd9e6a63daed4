"""What every layer of the gateway shares: settings, typed errors, ids and hashes, API-key authentication."""
