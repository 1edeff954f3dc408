"""The core of a check, shared by everything that checks a claim against its source.

The worker (``services.run.verification_run``) and the ``verify`` command
(``services.check.check_now``) run the same steps, and so will anything later that checks a
claim (the integration API, re-matching):

0. ``questions``: what a check of a claim asks, built from Vigie's rows (the applicant's
   identity and the declaration, a variant's changes applied), and the query, recipient and
   configuration the provider client takes. It writes nothing; the selectors read it too.
1. ``gates``: whether the request may call now, and if not, why (the gates in order: pause,
   lease, not_before, hold, breaker, limiter). Start there to answer "why hasn't my request
   run?".
2. ``call``: ``call_source`` passes the call's gates, calls the source outside any database
   transaction, and tells the limiter what the answer said. It returns an ``Answer``: the
   result or the error, and the upstream calls made.
3. ``classify``: ``classify`` maps an ``Answer`` to what happens next: conclude (the verdict
   rules decide), retry at a time, or defer (nothing was sent).
4. ``record``: the worker's writes: the attempt rows, the verdict, the release back to
   ``pending``, the institution's alerts.

Nothing here is imported by this ``__init__``: import the module you need.
"""
