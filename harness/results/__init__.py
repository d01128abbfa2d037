"""Result records and what is computed from them: the record schema, writing and reading records,
per-query results, the paired bootstrap, and comparing two runs."""
