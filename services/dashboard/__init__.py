"""The live web dashboard: jobs, models, evaluations, activations and workers, read through LenetService.

It builds the gateway's LenetService in-process over the same store and task queue, and calls it with a Caller
for each request, so every rule the gateway applies (validation, ownership, paging, limits) applies here too.
It never imports MXNet: activations come through the serving path, as the gateway's Inspect.
"""
