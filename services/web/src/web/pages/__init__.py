"""One module per feature, each with a `router` (collected by app.page_routers)."""
