"""`curate audit`: every ingested record's fate (doc_fates) and the reconciliation of counts."""
