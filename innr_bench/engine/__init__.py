"""The engine: a suite planned into keyed tasks (plan), run by an executor (executors/) through
the cell worker (worker: train, compress, evaluate, attack) against the tensor cache (cache),
its records (records: the schema) kept in a result store (store)."""
