"""Reading a live cluster through the official ``kubernetes`` client: REST and discovery (:mod:`.rest`,
:mod:`.discovery`), the cluster client context loaders read (:mod:`.datasource`), and which resources a
set of policies selects (:mod:`.selection`).

Front ends that talk to a cluster (``verno apply --cluster``, the controller) share these; nothing here is
imported unless a cluster is used, so offline runs never load the client.
"""
