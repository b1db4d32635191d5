from servicekit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "notifications"
    http_port: int = 8004
    mongo_url: str = "mongodb://127.0.0.1:27104/?directConnection=true"
