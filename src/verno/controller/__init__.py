"""The cluster half: ``verno controller`` (generate and synchronize from durable UpdateRequests, under a Lease)."""
