"""``reviewer batch`` and ``reviewer report``: review every past reply of an export, then a scorecard.

One module per idea: :mod:`.columns` (which input column is which field), :mod:`.read`
(JSONL/CSV/Parquet rows, bad rows with their row number), :mod:`.store` (the resumable
output), :mod:`.run` (the process pool and progress), :mod:`.budget` (which rows go to a
model, and what it costs), :mod:`.scorecard` and :mod:`.svg` (the HTML report).
"""
