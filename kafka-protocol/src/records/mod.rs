//! Record batches (v2) and legacy message sets (magic 0 and 1), with compression.
