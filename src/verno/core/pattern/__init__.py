"""The pattern machinery validate and mutate share (K: ``pkg/engine/anchor``, ``pkg/engine/pattern``,
``pkg/engine/validate``), kept in the core so that neither rule-kind plugin depends on the other.

* ``anchors``: anchor keys (``(k)``, ``<(k)``, ``X(k)``, ``=(k)``, ``^(k)``, ``+(k)``) and a pattern map's
  evaluation order;
* ``scalars``: one resource value against one pattern value (operators, wildcards, quantities, durations);
* ``metadata``: wildcard label and annotation keys expanded against the resource;
* ``fastpath``: a compiled pass check for the common patterns;
* ``matcher``: ``match_pattern(resource, pattern) -> PatternResult``, Kyverno's pattern walk with its
  paths and messages (validate ``pattern``/``anyPattern``; mutate's condition and global anchors).
"""
