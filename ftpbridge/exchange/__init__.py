"""A partner's cycles: export and upload, poll and take, the connection check, its status."""
