"""The verification side's pages, one module per area: ``dashboard``, ``claims`` (an applicant's
claims with their verdicts and the actions on a claim), ``batches`` (batch verification) and
``retention`` (institution settings, verdict-change notices, GDPR export and erasure)."""
