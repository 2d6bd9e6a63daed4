"""Where state lives: the database (jobs, registry, works, keys, audit tables), asset storage, the job queue."""
