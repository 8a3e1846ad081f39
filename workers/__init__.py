"""Background workers: the MXNet engine and the tasks that drive it."""
