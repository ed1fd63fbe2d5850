"""Judicial cases: a lender's filing with a court or arbitration body, and every step after.

:mod:`gateway.cases.machine` is the pure state machine (who may record which event when);
the vocabulary and the event document are the court's (:mod:`court.evidence.case_terms`,
:mod:`court.evidence.case_event`). See ``docs/cases.md``.
"""
