from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "campaigns"
    http_port: int = 8001
    mongo_url: str = "mongodb://127.0.0.1:27101/?directConnection=true"
    # How often the deadline scheduler looks for campaigns to close (the test stack uses 1 s).
    deadline_tick_s: float = 30.0
    # A replica that claimed a campaign to close it owns it this long; if it dies meanwhile,
    # another replica takes over after the lease expires.
    deadline_lease_s: float = 60.0
    deadline_batch: int = 50
